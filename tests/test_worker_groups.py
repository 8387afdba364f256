"""`make test` runs on two pytest-xdist workers and relies on tests/conftest.py's groups to build each costly
session fixture once. If the groups stopped working (pytest 9.2 with xdist 3.8 silently drops them), the suite
would still pass, only slower: this runs a small project through the same hook and options to catch that."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent

CONFTEST = """
import pytest
from tests.conftest import pytest_collection_modifyitems  # the suite's own grouping hook


@pytest.fixture(scope="session")
def cards_training():
    return "trained"
"""

USES_TRAINING = """
def test_one(cards_training):
    assert cards_training


def test_two():
    pass
"""

PLAIN = """
def test_{n}_a():
    pass


def test_{n}_b():
    pass
"""


def test_modules_sharing_a_costly_fixture_run_whole_on_one_worker(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name in ("test_trainer_side.py", "test_bench_side.py"):
        (tmp_path / name).write_text(USES_TRAINING)
    for n in range(4):
        (tmp_path / f"test_plain_{n}.py").write_text(PLAIN.format(n=n))

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    worker_of: dict[str, set[str]] = {}  # module -> workers its tests ran on
    grouped = set()
    for worker, nodeid in re.findall(r"\[(gw\d)\] \[[ \d]+%\] PASSED (\S+)", run.stdout):
        module = nodeid.split("::", 1)[0]
        worker_of.setdefault(module, set()).add(worker)
        if nodeid.endswith("@cards_training"):
            grouped.add(module)
    assert len(worker_of) == 6, run.stdout
    assert all(len(workers) == 1 for workers in worker_of.values()), worker_of  # modules stay whole
    assert grouped == {"test_trainer_side.py", "test_bench_side.py"}, run.stdout
    assert worker_of["test_trainer_side.py"] == worker_of["test_bench_side.py"]
