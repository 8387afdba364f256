"""The lock on one dataset's files. An import holds it from writing its CSV until its database commit (or
the withdrawal that undoes it); a training holds it while it copies `annotations.csv`, so a training never
copies rows whose import then fails to commit. Imports run in the server's threads and trainings in spawned
worker processes, so this is a file lock on the dataset's folder (flock underneath), which excludes threads
and processes alike, and which the kernel drops if its holder dies."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

LOCK_NAME = ".lock"


def dataset_lock(dataset_dir: Path) -> FileLock:
    """A context manager holding the dataset's lock (blocks until it is free)."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(dataset_dir / LOCK_NAME)
