"""Training and validation images at the model's input size: in memory when they fit, else from their files.

Holding every image decoded costs 0.3 MB at 320 px and 0.6 MB at 448 px, so 20,000 images would need 12 GB.
Above `max_bytes` the images are decoded and resized again on each use instead (5–6 ms each for the cards
and BCCD photos, about 8 % of a low-latency fine-tuning step).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import TrainingCancelled
from ..types import CancelCheck
from .augment import resize_square
from .images import load_rgb


class ImagesFromFiles:
    """A read-only uint8 [M, size, size, 3] array whose rows are decoded from `paths` when indexed.

    Supports what training uses of an ndarray: len(), an int, a slice, or an integer array as index."""

    def __init__(self, paths: Sequence[Path], size: int):
        self.paths, self.size = list(paths), size
        self.shape = (len(self.paths), size, size, 3)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return _decode(self.paths[index], self.size)
        rows = range(len(self))[index] if isinstance(index, slice) else np.asarray(index).tolist()
        out = np.empty((len(rows), self.size, self.size, 3), np.uint8)
        for i, row in enumerate(rows):
            out[i] = self[row]
        return out


Images = np.ndarray | ImagesFromFiles  # what training indexes: uint8 [M, size, size, 3]


def take(images: Images, rows: np.ndarray) -> Images:
    """The images at `rows`, of the same kind (a subset from files is not decoded here)."""
    if isinstance(images, ImagesFromFiles):
        return ImagesFromFiles([images.paths[i] for i in rows], images.size)
    return images[rows]


def load_images(paths: Sequence[Path], size: int, max_bytes: int, cancel: CancelCheck) -> Images:
    """The images stretched to size × size, in display orientation: decoded now into one array when that
    takes at most max_bytes, else an ImagesFromFiles that decodes them on use."""
    if len(paths) * size * size * 3 > max_bytes:
        return ImagesFromFiles(paths, size)
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        if cancel():
            raise TrainingCancelled("training cancelled while loading images")
        out[i] = _decode(path, size)
    return out


def _decode(path: Path, size: int) -> np.ndarray:
    return resize_square(load_rgb(path), size)
