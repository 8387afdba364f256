"""`timeout` and `kill` stop a benchmark with SIGTERM: what the benchmark started must stop with it, or it
keeps loading the machine for the next measurement."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    """The process's state letter and parent pid from /proc, None once it is gone."""
    try:
        state, ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
    except OSError:
        return None
    return state, int(ppid)


def _alive(pid: int) -> bool:
    found = _state_and_parent(pid)
    return found is not None and found[0] != "Z"


def _running_children(parent: int, marker: str) -> list[int]:
    """Live processes whose parent is `parent` and whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _state_and_parent(pid)
        if stat is None or stat[0] == "Z" or stat[1] != parent:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(pid)
    return found


@pytest.mark.parametrize("after_s", [0.0, 8.0], ids=["while-it-starts", "while-it-serves"])
def test_a_benchmark_stopped_with_sigterm_stops_the_service_it_started(after_s):
    command = [sys.executable, "-m", "benchmarks.service_bench", "--operations", "50", "--seconds", "300"]
    bench = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not service:
            assert bench.poll() is None and time.monotonic() < deadline, "the service never started"
            time.sleep(0.2)
            service = _running_children(bench.pid, "edgetrain_service.cli")
        time.sleep(after_s)  # the service is ready within a few seconds; the benchmark then loads it
        bench.send_signal(signal.SIGTERM)
        bench.wait(timeout=60)
        deadline = time.monotonic() + 30
        while _alive(service[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(service[0]), "the benchmark's service outlived it"
    finally:
        if bench.poll() is None:
            bench.kill()
        for pid in service:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
