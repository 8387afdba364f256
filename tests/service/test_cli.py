"""`edgetrain serve` as a command: dispatch, argument errors, token rule."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


def test_edgetrain_dispatches_serve():
    result = run("-m", "edgetrain.cli", "serve", "--help")
    assert result.returncode == 0 and "--trainer-overrides" in result.stdout


def test_non_loopback_bind_requires_a_token(tmp_path):
    result = run("-m", "edgetrain_service.cli", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "--token" in result.stderr


def test_unreadable_trainer_overrides_are_reported(tmp_path):
    bad = tmp_path / "overrides.json"
    bad.write_text("{max_epochs: 1}")
    result = run("-m", "edgetrain_service.cli", "--data-dir", str(tmp_path), "--trainer-overrides", str(bad))
    assert result.returncode != 0 and "--trainer-overrides" in result.stderr


def test_unknown_trainer_setting_is_rejected_at_start(tmp_path):
    overrides = tmp_path / "overrides.json"
    overrides.write_text('{"epochz": 1}')
    result = run(
        "-m", "edgetrain_service.cli", "--data-dir", str(tmp_path), "--trainer-overrides", str(overrides)
    )
    assert result.returncode != 0 and "epochz" in result.stderr


def test_an_allowed_local_dir_that_does_not_exist_is_refused_at_start(tmp_path):
    result = run(
        "-m",
        "edgetrain_service.cli",
        "--data-dir",
        str(tmp_path),
        "--allow-local-dir",
        str(tmp_path / "nope"),
    )
    assert (
        result.returncode == 2 and "--allow-local-dir" in result.stderr and "no such folder" in result.stderr
    )


def test_serve_help_lists_the_hardening_flags():
    result = run("-m", "edgetrain.cli", "serve", "--help")
    assert all(flag in result.stdout for flag in ("--allow-local-dir", "--allow-host", "--allow-origin"))
