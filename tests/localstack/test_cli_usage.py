"""`edgetrain local-stack run` refuses bad arguments with exit 2 and a message, before starting anything."""

from __future__ import annotations

import subprocess
import sys

import pytest


def local_stack_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgetrain.cli", "local-stack", "run", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_var_dir_under_a_file_is_a_usage_error(tmp_path):
    """It failed after the usage checks, naming a logs folder that could not exist."""
    (tmp_path / "notes.txt").write_text("user data")
    var_dir = tmp_path / "notes.txt" / "runs"
    result = local_stack_run("--var-dir", str(var_dir))
    assert result.returncode == 2
    assert f"--var-dir {var_dir}: cannot create a run folder in it (Not a directory)" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "user data"


@pytest.mark.parametrize(
    ("flag", "value"), [("--poll-interval", "nan"), ("--timeout", "inf"), ("--timeout", "0")]
)
def test_poll_interval_and_timeout_must_be_positive_numbers(tmp_path, flag, value):
    result = local_stack_run("--var-dir", str(tmp_path / "var"), flag, value)
    assert result.returncode == 2
    assert "--poll-interval and --timeout must be positive numbers" in result.stderr
    assert not (tmp_path / "var").exists()
