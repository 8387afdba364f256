"""One `edgetrain serve` per data dir: an exclusive flock on DATA_DIR/service.lock, held for the life of the
process. Two servers on one database would both run the queued jobs and recover each other's running ones.
The kernel drops the lock when the process dies, however it dies, so a crash never leaves a stale lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "service.lock"


class DataDirInUse(RuntimeError):
    """Another process holds the data dir's lock."""


def lock_data_dir(data_dir: Path) -> int:
    """Take the lock or raise DataDirInUse naming the holder; returns the open descriptor (keep it open)."""
    path = Path(data_dir) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DataDirInUse(
            f"another edgetrain serve (pid {holder}) is using the data dir {data_dir}; stop it first, or "
            "give this one its own --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd
