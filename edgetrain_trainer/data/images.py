"""Image reading for the trainer: any file PIL opens, any mode, EXIF orientation applied.

Boxes in AutoML CSVs are relative to the image as displayed, i.e. after the EXIF orientation
transform, so every reader here applies it: sizes and pixels always come in that orientation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DatasetError

# AutoML Vision's training formats (JPEG, PNG, GIF, BMP, ICO) plus WEBP and TIFF, which PIL reads well.
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP", "ICO", "WEBP", "TIFF", "MPO"})
MAX_IMAGE_BYTES = 30 * 1024 * 1024  # AutoML's per-image limit

# EXIF orientations 5–8 rotate by 90°/270°, so width and height swap.
_TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION_TAG = 0x0112


class UnreadableImageError(DatasetError):
    """An image file is missing, too large, of an unsupported format, or cannot be decoded."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def load_rgb(path: Path | str) -> Image.Image:
    """Decode `path` into an 8-bit RGB image in display orientation (EXIF transpose applied).

    Any mode converts: 1-bit, L, LA, P (with or without transparency), RGBA, CMYK, YCbCr, and the
    16/32-bit and float modes (I;16*, I, F, rescaled to 0–255). Alpha is dropped, as
    `tf.image.decode_image(channels=3)` does. Animated files give their first frame.
    Raises UnreadableImageError (a DatasetError) with the path and the reason.
    """
    with _open(path) as image:
        try:
            image.load()
            oriented = ImageOps.exif_transpose(image)
            return _to_rgb(oriented)
        except (OSError, ValueError, SyntaxError) as exc:  # PIL signals truncated/corrupt data this way
            raise UnreadableImageError(path, f"cannot decode image ({exc})") from exc


def check_image(path: Path | str) -> tuple[int, int]:
    """Validate an image as an import does and return its (width, height) in display orientation.

    Checks: the file exists, is ≤ 30 MB, is a supported format and decodes completely (JPEGs are
    decoded at reduced scale, which still reads the whole stream but costs a fraction of the time).
    """
    with _open(path) as image:
        width, height = image.size
        try:
            if image.format == "JPEG":
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise UnreadableImageError(path, f"cannot decode image ({exc})") from exc
        # After load: reading a PNG's EXIF decodes the image, and a decode error there would be swallowed.
        orientation = _orientation(image)
    if orientation in _TRANSPOSED_ORIENTATIONS:
        return height, width
    return width, height


def _open(path: Path | str) -> Image.Image:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UnreadableImageError(path, "image file not found") from None
    except OSError as exc:
        raise UnreadableImageError(path, f"cannot access image ({exc.strerror or exc})") from exc
    if not path.is_file():
        raise UnreadableImageError(path, "not a file")
    if size > MAX_IMAGE_BYTES:
        raise UnreadableImageError(path, f"image is {size / 2**20:.1f} MB; the limit is 30 MB")
    if size == 0:
        raise UnreadableImageError(path, "image file is empty")
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise UnreadableImageError(
            path, "not an image PIL can identify (corrupt or unsupported format)"
        ) from None
    except Image.DecompressionBombError as exc:
        raise UnreadableImageError(path, f"image has too many pixels ({exc})") from exc
    except OSError as exc:
        raise UnreadableImageError(path, f"cannot open image ({exc.strerror or exc})") from exc  # no path
    if image.format not in SUPPORTED_FORMATS:
        image.close()
        raise UnreadableImageError(
            path,
            f"unsupported image format {image.format}; use one of {', '.join(sorted(SUPPORTED_FORMATS))}",
        )
    return image


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not make a good image unreadable
        return 1


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return Image.fromarray(_high_depth_to_uint8(np.asarray(image)), mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # palette transparency must go through RGBA to convert cleanly
    return image.convert("RGB")


def _high_depth_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Map 16/32-bit integer or float grayscale to 0–255 the way decoders do (16-bit: value / 257)."""
    is_float = np.issubdtype(pixels.dtype, np.floating)
    pixels = pixels.astype(np.float64)
    peak = float(pixels.max()) if pixels.size else 0.0
    if is_float and peak <= 1.0:
        scale = 255.0  # float images in 0–1
    elif peak <= 255.0:
        scale = 1.0
    elif peak <= 65535.0:
        scale = 1.0 / 257.0
    else:
        scale = 255.0 / peak
    return np.clip(np.rint(pixels * scale), 0, 255).astype(np.uint8)
