"""The most pixels the service decodes from one image (Predict and ImportData), read from the image header
before any decoding. Pillow's own bomb check only starts at ~179 million pixels (half a gigabyte as RGB)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

MAX_IMAGE_PIXELS = 40_000_000  # 120 MB as RGB; a 30 MB JPEG from a phone is ~12-50 MP


def too_many_pixels(width: int, height: int) -> str | None:
    """The reason an image of this size is refused, or None."""
    if width * height <= MAX_IMAGE_PIXELS:
        return None
    return f"image is {width} x {height} pixels; the limit is {MAX_IMAGE_PIXELS:,} pixels"


def file_pixel_problem(path: Path) -> str | None:
    """The reason the image file at `path` is refused for its size, or None (also when it is not an image
    Pillow opens: the trainer's import check reports that)."""
    try:
        with Image.open(path) as image:
            return too_many_pixels(*image.size)
    except Image.DecompressionBombError:
        return f"image has more than {MAX_IMAGE_PIXELS:,} pixels, the limit"
    except Exception:  # not an image, unreadable: the import's own check says which
        return None
