"""Image loading: every mode becomes 8-bit RGB, EXIF orientation is applied, bad files give clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgetrain_trainer.data.dataset import load_dataset
from edgetrain_trainer.data.images import UnreadableImageError, check_image, load_rgb
from edgetrain_trainer.errors import DatasetError

EXIF_ORIENTATION = 0x0112


def _palette(transparent: bool) -> tuple[Image.Image, dict]:
    image = Image.new("P", (6, 4), 0)
    image.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    return image, ({"transparency": 0} if transparent else {})


def _image(mode: str) -> tuple[Image.Image, str, dict, tuple[int, int, int]]:
    """(image, file suffix, save options, the RGB every pixel must load as)."""
    if mode in ("P", "P+transparency"):
        image, options = _palette(transparent=mode != "P")
        return image, ".png", options, (255, 0, 0)
    cases = {
        "1": (1, ".png", (255, 255, 255)),
        "L": (128, ".png", (128, 128, 128)),
        "LA": ((128, 0), ".png", (128, 128, 128)),
        "RGBA": ((10, 20, 30, 0), ".png", (10, 20, 30)),
        "CMYK": ((0, 255, 255, 0), ".tif", (255, 0, 0)),
        "I;16": (128 * 257, ".png", (128, 128, 128)),
        "F": (0.5, ".tif", (128, 128, 128)),
        "RGB": ((1, 2, 3), ".bmp", (1, 2, 3)),
    }
    value, suffix, expected = cases[mode]
    return Image.new(mode, (6, 4), value), suffix, {}, expected


MODES = ["1", "L", "LA", "P", "P+transparency", "RGBA", "CMYK", "I;16", "F", "RGB"]


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_loads_as_8_bit_rgb(tmp_path, mode):
    image, suffix, options, expected = _image(mode)
    path = tmp_path / f"image{suffix}"
    image.save(path, **options)

    loaded = load_rgb(path)

    assert loaded.mode == "RGB"
    assert loaded.size == (6, 4)
    assert np.asarray(loaded).reshape(-1, 3).tolist() == [list(expected)] * 24
    assert check_image(path) == (6, 4)


def test_cmyk_jpeg_loads_as_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)
    pixels = np.asarray(load_rgb(path)).astype(int)
    assert np.abs(pixels - [255, 0, 0]).max() <= 8


def test_exif_orientation_is_applied_to_pixels_and_sizes(tmp_path):
    # stored 40 x 20: left half red, right half blue; orientation 6 = rotate 90° clockwise to display
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)

    loaded = load_rgb(path)

    assert loaded.size == (20, 40)
    assert check_image(path) == (20, 40)
    stored.save(tmp_path / "rotated.png", exif=exif)
    assert load_rgb(tmp_path / "rotated.png").size == check_image(tmp_path / "rotated.png") == (20, 40)
    top, bottom = np.asarray(loaded)[5, 10].astype(int), np.asarray(loaded)[35, 10].astype(int)
    assert np.abs(top - [255, 0, 0]).max() < 30  # the stored left edge is now the top
    assert np.abs(bottom - [0, 0, 255]).max() < 30

    csv_path = tmp_path / "data.csv"
    csv_path.write_text("TRAIN,rotated.jpg,cat,0.1,0.1,,,0.5,0.3,,\n")
    (example,) = load_dataset(csv_path).examples
    assert (example.width, example.height) == (20, 40)


def test_large_and_tiny_images(tmp_path):
    Image.new("L", (3000, 2000), 7).save(tmp_path / "large.png")
    Image.new("RGB", (1, 1), (9, 9, 9)).save(tmp_path / "tiny.gif")
    assert load_rgb(tmp_path / "large.png").size == (3000, 2000)
    assert check_image(tmp_path / "large.png") == (3000, 2000)
    assert np.asarray(load_rgb(tmp_path / "tiny.gif")).tolist() == [[[9, 9, 9]]]


def _truncated_jpeg(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _damaged_png(path: Path) -> Path:
    """One byte of the pixel data flipped: the file opens, its pixels do not decode. The import check passed
    it (reading a PNG's EXIF decodes it and swallowed the error) and the training then failed on it."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path, format="PNG")
    data = bytearray(path.read_bytes())
    data[data.find(b"IDAT") + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p, "image file not found"),
        (lambda p: p.write_bytes(b"") and p, "image file is empty"),
        (lambda p: p.write_text("hello, not pixels") and p, "not an image PIL can identify"),
        (lambda p: Image.new("RGB", (4, 4)).save(p, format="PPM") or p, "unsupported image format PPM"),
        (_truncated_jpeg, "cannot decode image"),
        (_damaged_png, "cannot decode image"),
    ],
)
def test_unreadable_files_raise_a_dataset_error_naming_the_file(tmp_path, make, reason):
    path = tmp_path / "broken.jpg"
    make(path)
    for reader in (load_rgb, check_image):
        with pytest.raises(UnreadableImageError) as caught:
            reader(path)
        assert isinstance(caught.value, DatasetError)
        assert str(path) in str(caught.value)
        assert reason in caught.value.reason
