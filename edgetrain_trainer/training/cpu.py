"""How many cores are free right now, to size TF's thread pools (they collapse when oversubscribed).

Measured from /proc/stat over a short window rather than from the load average: the 1-minute load average
lags by about a minute, so a training started right after another one ends would see the finished run's
load and keep half the machine idle for its whole run.
"""

from __future__ import annotations

import os
import time

PROC_STAT = "/proc/stat"


def free_cores(window_seconds: float = 0.5) -> int:
    """Cores not busy over the last `window_seconds` (at least 1); the load average where /proc is missing."""
    cores = os.cpu_count() or 1
    try:
        before = _read_cpu_line()
        time.sleep(window_seconds)
        busy = busy_cores(before, _read_cpu_line(), cores)
    except (OSError, ValueError):
        busy = os.getloadavg()[0]
    return max(1, min(cores, round(cores - busy)))


def busy_cores(before: str, after: str, cores: int) -> float:
    """Busy cores between two aggregate `cpu ...` lines of /proc/stat (user nice system idle iowait ...)."""
    first, second = _ticks(before), _ticks(after)
    delta = [b - a for a, b in zip(first, second, strict=True)]
    total = sum(delta[:8])  # guest time is already counted in user time
    if total <= 0:
        return 0.0
    idle = delta[3] + delta[4]  # idle + iowait
    return cores * (total - idle) / total


def _ticks(line: str) -> list[int]:
    fields = line.split()
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        raise ValueError(f"not an aggregate cpu line of /proc/stat: {line!r}")
    return [int(v) for v in fields[1:9]]


def _read_cpu_line() -> str:
    with open(PROC_STAT, encoding="ascii") as stat:
        return stat.readline()
