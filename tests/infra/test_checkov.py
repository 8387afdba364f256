"""checkov over infra/ passes; every check it skips is skipped by a comment on the resource that says why."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from .conftest import INFRA, REPO

CHECKOV = (
    REPO / ".venv" / "checkov" / "bin" / "checkov"
)  # own venv: its pins clash with ours (Makefile setup)
SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def _skip_comments() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(INFRA.rglob("*.tf")):
        for line in path.read_text().splitlines():
            match = SKIP.search(line)
            if match:
                found.append((str(path.relative_to(INFRA)), match.group(1), (match.group(2) or "").strip()))
    return found


def test_every_skip_says_why():
    comments = _skip_comments()
    assert comments, "expected the documented skips (CMEK, CSEK, access-log sink)"
    for path, check, reason in comments:
        assert re.fullmatch(r"CKV2?_GCP_\d+", check), f"{path}: {check}"
        assert len(reason.split()) >= 4, f"{path}: skip of {check} needs a one-line reason, got {reason!r}"


@pytest.fixture(scope="module")
def checkov_report():
    if not CHECKOV.exists():
        pytest.skip(f"{CHECKOV} is missing: run `make setup` (it creates checkov's own venv)")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}  # no network: do not fetch Prisma Cloud mappings
    result = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.stdout.strip(), f"checkov printed nothing; stderr: {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    return report if isinstance(report, dict) else next(r for r in report if r["check_type"] == "terraform")


def test_checkov_passes(checkov_report):
    results = checkov_report["results"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in results["failed_checks"]]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert not results["parsing_errors"]
    assert checkov_report["summary"]["passed"] > 50  # it really scanned the modules


def test_checkov_skips_exactly_the_commented_checks(checkov_report):
    skipped = {
        (c["check_id"], c["file_path"].lstrip("/")) for c in checkov_report["results"]["skipped_checks"]
    }
    commented = {(check, path) for path, check, _ in _skip_comments()}
    assert skipped == commented
