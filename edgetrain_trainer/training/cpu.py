"""How many threads a training gives TF's pools: the usable cores (affinity, cgroup CPU quota) minus the cores
other work keeps busy both right now and over the last minute (docs/trainer_design.md, "Threads")."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

PROC_STAT = "/proc/stat"
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def free_cores(window_seconds: float = 0.5) -> int:
    """Usable cores not taken by other sustained work (at least 1)."""
    cores = os.cpu_count() or 1
    try:
        before = _read_cpu_line()
        time.sleep(window_seconds)
        busy_now = busy_cores(before, _read_cpu_line(), cores)
    except (OSError, ValueError):
        busy_now = float(cores)  # no /proc: the load average alone
    return cores_to_use(usable_cores(), cores, busy_now, os.getloadavg()[0])


def cores_to_use(usable: int, cores: int, busy_now: float, load_average: float) -> int:
    """The usable cores minus those other work keeps busy both now and over the last minute (at least 1);
    `cores` is the machine's count, the scale of both busy figures."""
    return max(1, min(usable, round(cores - min(busy_now, load_average))))


def usable_cores(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """Cores this process may use: its CPU affinity, capped by its cgroups' CPU quota (v2 or v1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root, proc_cgroup)
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """CPUs' worth of time this process may use: the tightest quota on its cgroup and the cgroup's ancestors
    (v2's cpu.max, v1's cfs quota / period); None: no limit."""
    quotas = [quota for folder in _cgroup_folders(root, proc_cgroup) if (quota := _folder_quota(folder))]
    return min(quotas, default=None)


def _cgroup_folders(root: Path, proc_cgroup: Path) -> list[Path]:
    """The process's cgroup folder (v2's unified one, v1's cpu controller's) and its ancestors up to the
    mount, those that exist. Under a cgroup namespace (Docker, Kubernetes) the process's path is "/" and the
    mount is its own cgroup; without one (a systemd unit's CPUQuota) the limit sits deeper, at its path."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    folders = []
    for line in lines:  # "0::/path" (v2) or "ID:cpu,cpuacct:/path" (v1)
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            mount = root
        elif "cpu" in controllers.split(","):
            mount = root / "cpu"
        else:
            continue
        relative = Path(path.lstrip("/"))
        folders += [mount / part for part in (relative, *relative.parents)]
    folders += [root, root / "cpu"]  # the mounts too: all there is without /proc/self/cgroup
    return [folder for folder in dict.fromkeys(folders) if folder.is_dir()]


def _folder_quota(folder: Path) -> float | None:
    try:
        fields = (folder / "cpu.max").read_text().split()  # v2: "<quota|max> <period>"
    except OSError:
        try:
            fields = [
                (folder / "cpu.cfs_quota_us").read_text().strip(),  # v1: -1 when unlimited
                (folder / "cpu.cfs_period_us").read_text().strip(),
            ]
        except OSError:
            return None
    try:
        quota, period = float(fields[0]), float(fields[1])
    except (ValueError, IndexError):  # "max": no limit
        return None
    return quota / period if quota > 0 and period > 0 else None


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
