"""What every benchmark record says about where and on what it ran: machine, load, git commit."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, load average (the machine is shared: load explains slow runs), versions."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": _mem_total(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "gpu": _gpu(),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow-cpu") or _version("tensorflow"),
        "platform": platform.platform(),
    }


RESULT_PATHS_EXCLUDED = (":!benchmarks/results", ":!BENCHMARKS.md")


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD") or None
    changes = git("diff", "HEAD", "--", ".", *RESULT_PATHS_EXCLUDED)  # results do not make the code dirty
    return {
        "commit": commit,
        "dirty": bool(changes),
        # Compared before and after a run: TF's autograph re-reads a function's source file when it traces
        # it, so code edited while a benchmark runs can end up in (or crash) the measured training.
        "source_digest": hashlib.sha256(f"{commit}\n{changes}".encode()).hexdigest(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _gpu() -> str | None:
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip().replace("\n", ", ") or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
