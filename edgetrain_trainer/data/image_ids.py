"""An image's id: the sha256 (hex) of its file's bytes, so the same picture under another path, URI or name
is the same image. The trainer reports which images it trained, validated and evaluated on by these ids;
the service's digests of image sets (edgetrain_service/comparison.py) are built from them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

_CHUNK = 1 << 20


def image_id(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def image_ids(paths: Iterable[Path | str]) -> dict[Path, str]:
    """Each distinct path's id, read once."""
    return {Path(path): image_id(path) for path in dict.fromkeys(Path(p) for p in paths)}
