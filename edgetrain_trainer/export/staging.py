"""Write a directory whole or not at all."""

from __future__ import annotations

import glob
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InvalidArgumentError


@contextmanager
def staged_directory(dest: Path) -> Iterator[Path]:
    """Yield a hidden sibling of `dest` to fill.

    When the block succeeds the sibling is renamed onto `dest` (absent or an empty directory); when it raises
    (cancellation included) the sibling is removed, so `dest` never holds a half-written result."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_partial_prefix(dest), dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            dest.rmdir()
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_destination(dest: Path, field: str) -> None:
    """Refuse, before any work, a `dest` that staged_directory could not fill: one that is not absent or an
    empty directory, or whose parent cannot be created or written (found only at the end otherwise, after
    the whole training)."""
    nearest = next(path for path in (dest, *dest.parents) if path.exists())
    if not nearest.is_dir():
        raise InvalidArgumentError(f"{field}: {nearest} exists and is not a folder")
    if nearest == dest and any(dest.iterdir()):
        raise InvalidArgumentError(f"{field}: {dest} already exists and is not empty")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=_partial_prefix(dest), dir=dest.parent)).rmdir()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidArgumentError(f"{field}: cannot write into {dest.parent} ({reason})") from None


def remove_with_partials(dest: Path) -> None:
    """Remove `dest` and the hidden siblings of a writer that was killed before it could clean up."""
    shutil.rmtree(dest, ignore_errors=True)
    for leftover in dest.parent.glob(glob.escape(_partial_prefix(dest)) + "*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _partial_prefix(dest: Path) -> str:
    return f".{dest.name}.partial-"
