"""The README a user reads first: under 10 KB, the two commands on its first lines, every relative link
resolving to a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_BYTES = 10_000


def test_readme_is_under_ten_kilobytes():
    assert README.stat().st_size < MAX_BYTES


def test_readme_opens_with_the_two_commands():
    first_lines = README.read_text().splitlines()[:5]
    commands = [line.split("#")[0].strip() for line in first_lines if line.startswith("    make ")]
    assert commands == ["make run", "make test"]


def test_readme_relative_links_resolve():
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert local, "the README links no docs"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, missing
