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


def test_a_csv_without_a_usable_row_is_refused_with_its_bad_rows_before_anything_starts(tmp_path):
    """It started the whole stack and failed 20 s later with "see partial failures", never saying why."""
    (tmp_path / "a.jpg").write_text("not an image")
    data = tmp_path / "annotations.csv"
    data.write_text("TRAIN,a.jpg,cat,0.1,0.1,,,0.5,0.5,,\nTRAINX,b.jpg,cat,0.1,0.1,,,0.5,0.5,,\n")
    result = local_stack_run("--data", str(data), "--var-dir", str(tmp_path / "var"))
    assert result.returncode == 2
    assert f"bad row: {data}:1: not an image PIL can identify" in result.stderr
    assert f"bad row: {data}:2: ML_USE 'TRAINX' must be one of" in result.stderr
    assert f"--data {data}: no image has a valid box (2 rows read, 2 bad, listed above)" in result.stderr
    assert not (tmp_path / "var").exists()
