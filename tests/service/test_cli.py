"""`edgetrain serve` as a command: dispatch, argument errors, token rule."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from edgetrain_service.cli import READY_PREFIX


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
    assert result.returncode == 2 and "--trainer-overrides" in result.stderr


def test_inline_json_for_trainer_overrides_is_told_it_takes_a_file(tmp_path):
    """It was an rc-1 "[Errno 2] No such file or directory" (`train --overrides` does take inline JSON)."""
    inline = '{"max_epochs": 1}'
    result = run("-m", "edgetrain_service.cli", "--data-dir", str(tmp_path), "--trainer-overrides", inline)
    assert result.returncode == 2
    assert f"--trainer-overrides {inline}: no such file (it takes the path of a JSON file)" in result.stderr


def test_unknown_trainer_setting_is_rejected_at_start(tmp_path):
    overrides = tmp_path / "overrides.json"
    overrides.write_text('{"epochz": 1}')
    result = run(
        "-m", "edgetrain_service.cli", "--data-dir", str(tmp_path), "--trainer-overrides", str(overrides)
    )
    assert result.returncode == 2 and "epochz" in result.stderr


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


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_cancel_grace_seconds_must_be_a_number_of_seconds(tmp_path, value):
    result = run("-m", "edgetrain_service.cli", "--data-dir", str(tmp_path), "--cancel-grace-seconds", value)
    assert result.returncode == 2
    assert "--cancel-grace-seconds must be a number, 0 or more" in result.stderr


def test_serve_help_lists_the_hardening_flags_and_the_default_ports():
    result = run("-m", "edgetrain.cli", "serve", "--help")
    assert all(flag in result.stdout for flag in ("--allow-local-dir", "--allow-host", "--allow-origin"))
    help_text = " ".join(result.stdout.split())
    assert all(f"default {port};" in help_text for port in (8600, 8601, 8602))


@pytest.mark.parametrize("flag", ["--grpc-port", "--rest-port", "--vertex-rest-port"])
@pytest.mark.parametrize("value", ["99999", "-5", "http"])
def test_a_port_outside_0_to_65535_is_a_usage_error(tmp_path, flag, value):
    """99999 made gRPC listen on some other port, silently; -5 was an OverflowError traceback."""
    result = run("-m", "edgetrain_service.cli", "--data-dir", str(tmp_path), flag, value)
    assert result.returncode == 2
    assert f"{flag}: {value!r} is not a port: 0 (any free port) to 65535" in result.stderr


@pytest.mark.parametrize(
    "flag, key, transport",
    [
        ("--grpc-port", "grpc", "gRPC"),
        ("--rest-port", "rest", "REST"),
        ("--vertex-rest-port", "vertex_rest", "REST"),
    ],
)
def test_a_port_in_use_is_refused_not_shared(tmp_path, flag, key, transport):
    """grpc binds with SO_REUSEPORT by default: a second service on the port took half the requests."""
    any_free = ["--grpc-port", "0", "--rest-port", "0", "--vertex-rest-port", "0"]
    first = subprocess.Popen(
        [sys.executable, "-m", "edgetrain_service.cli", "--data-dir", str(tmp_path / "a"), *any_free],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready = first.stdout.readline()
        assert ready.startswith(READY_PREFIX), ready
        port = dict(part.split("=", 1) for part in ready.split()[len(READY_PREFIX.split()) :])[key]
        port = port.rsplit(":", 1)[1]
        second = run("-m", "edgetrain_service.cli", "--data-dir", str(tmp_path / "b"), *any_free, flag, port)
        assert second.returncode == 1
        assert f"edgetrain serve: cannot start: cannot bind {transport} to 127.0.0.1:{port}" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=60)


@pytest.mark.parametrize("flag", ["--data-dir", "--storage-root"])
@pytest.mark.parametrize("under", ["", "sub"])
def test_a_data_folder_that_is_a_file_is_a_usage_error(tmp_path, flag, under):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    folders = {"--data-dir": tmp_path / "data", "--storage-root": tmp_path / "gcs", flag: a_file / under}
    result = run("-m", "edgetrain_service.cli", *(str(part) for pair in folders.items() for part in pair))
    assert result.returncode == 2
    assert f"edgetrain serve: {flag} {a_file / under}: {a_file} is a file, not a folder" in result.stderr


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("file:///tmp/curves/", "must be gs://BUCKET/PATH/"),
        ("gs://b/curves/", "the bucket name 'b' must be 3-63"),
    ],
)
def test_a_progress_prefix_no_training_could_write_to_is_refused_at_start(tmp_path, prefix, problem):
    """A bucket name GCS refuses failed each training when it went to write its curve."""
    result = run("-m", "edgetrain_service.cli", "--data-dir", str(tmp_path), "--progress-uri-prefix", prefix)
    assert result.returncode == 2
    assert "--progress-uri-prefix" in result.stderr and problem in result.stderr


@pytest.mark.parametrize("module", ["edgetrain.cli", "edgetrain_service.cli"])
def test_a_crash_in_native_code_prints_where_every_thread_was(tmp_path, module):
    """A runner that died of SIGABRT in CI left only "code -6": nothing said where."""
    subcommand = ["serve"] if module == "edgetrain.cli" else []
    ports = ["--grpc-port", "0", "--rest-port", "0", "--vertex-rest-port", "0"]
    service = subprocess.Popen(
        [sys.executable, "-m", module, *subcommand, "--data-dir", str(tmp_path), *ports],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout.readline().startswith(READY_PREFIX)
        service.send_signal(signal.SIGABRT)
        _, stderr = service.communicate(timeout=60)
    finally:
        if service.poll() is None:
            service.kill()
    assert service.returncode == -signal.SIGABRT
    assert "Fatal Python error: Aborted" in stderr
    assert "most recent call first" in stderr and "edgetrain_service" in stderr


@pytest.mark.parametrize("module", ["edgetrain.cli", "edgetrain_service.cli"])
def test_the_commands_start_with_stderr_closed(module):
    """With fd 2 closed Python has no sys.stderr, and enabling the crash dump raised before anything ran."""
    command = f"{sys.executable} -m {module} {'serve ' if module == 'edgetrain.cli' else ''}--help 2>&-"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--trainer-overrides" in result.stdout
