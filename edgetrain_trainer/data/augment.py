"""Image preparation and augmentation with boxes.

Images are stretched to the square input size (no letterbox), so normalized box coordinates stay valid and
the exported model sees exactly what training saw. Boxes are yxyx normalized (ymin, xmin, ymax, xmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# Fraction of a box's area that must stay inside a crop for the box to be kept as a target.
MIN_VISIBLE_FRACTION = 0.4
MIN_BOX_EDGE = 0.01  # AutoML's minimum normalized box edge


def resize_square(image: Image.Image, size: int) -> np.ndarray:
    """PIL RGB image → uint8 [size, size, 3] (bilinear, aspect ratio not kept)."""
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


@dataclass(frozen=True)
class Augmenter:
    """Random flip, quarter turns, zoom (crop in / pad out) and brightness/contrast jitter.

    rotate: also turn by a random multiple of 90°; with flips that covers all eight orientations, which
    suits top-down imagery (cards on a table, microscopy, aerial) and is off by default.
    scale_range: zoom factor range; s < 1 shows a crop covering s of each side, s > 1 shrinks the image into
    a canvas filled with its mean colour. color: jitter amplitude (0.2 = ±20 %).
    """

    flip: bool = True
    rotate: bool = False
    scale_range: tuple[float, float] = (0.6, 1.4)
    color: float = 0.2

    def __call__(
        self, image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """image uint8 [S, S, 3], boxes [G, 4] yxyx, classes [G] → the same, augmented."""
        size = image.shape[0]
        boxes = boxes.astype(np.float32).copy()
        if self.flip and rng.random() < 0.5:
            image = image[:, ::-1]
            boxes[:, [1, 3]] = 1.0 - boxes[:, [3, 1]]
        if self.rotate:
            image, boxes = _quarter_turns(image, boxes, int(rng.integers(4)))
        scale = float(rng.uniform(*self.scale_range))
        if scale < 1.0:
            image, boxes, classes = _crop(image, boxes, classes, scale, rng)
        elif scale > 1.0:
            image, boxes = _pad(image, boxes, scale, rng)
        if image.shape[0] != size:
            image = np.asarray(
                Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.Resampling.BILINEAR)
            )
        if self.color > 0:
            image = _jitter(image, self.color, rng)
        return np.ascontiguousarray(image), boxes, classes


def _quarter_turns(image, boxes, turns):
    """Rotate a square image counter-clockwise by turns × 90°; a point (y, x) moves to (1 - x, y)."""
    for _ in range(turns):
        image = np.rot90(image)
        boxes = np.stack([1.0 - boxes[:, 3], boxes[:, 0], 1.0 - boxes[:, 1], boxes[:, 2]], axis=1)
    return image, boxes.astype(np.float32).reshape(-1, 4)


def _crop(image, boxes, classes, scale, rng):
    size = image.shape[0]
    side = max(int(round(size * scale)), 8)
    y0 = int(rng.integers(0, size - side + 1))
    x0 = int(rng.integers(0, size - side + 1))
    image = image[y0 : y0 + side, x0 : x0 + side]
    off = np.array([y0, x0, y0, x0], dtype=np.float32) / size
    new = (boxes - off) * (size / side)
    clipped = np.clip(new, 0.0, 1.0)
    area = (new[:, 2] - new[:, 0]) * (new[:, 3] - new[:, 1])
    area_in = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (area_in >= MIN_VISIBLE_FRACTION * np.maximum(area, 1e-12)) & (
        np.minimum(clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]) >= MIN_BOX_EDGE
    )
    return image, clipped[keep], classes[keep]


def _pad(image, boxes, scale, rng):
    size = image.shape[0]
    canvas_side = int(round(size * scale))
    canvas = np.empty((canvas_side, canvas_side, 3), dtype=np.uint8)
    canvas[:] = image.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    y0 = int(rng.integers(0, canvas_side - size + 1))
    x0 = int(rng.integers(0, canvas_side - size + 1))
    canvas[y0 : y0 + size, x0 : x0 + size] = image
    off = np.array([y0, x0, y0, x0], dtype=np.float32)
    return canvas, (boxes * size + off) / canvas_side


def _jitter(image, amplitude, rng):
    brightness = rng.uniform(-amplitude, amplitude) * 255.0
    contrast = 1.0 + rng.uniform(-amplitude, amplitude)
    img = image.astype(np.float32)
    mean = img.mean()
    return np.clip((img - mean) * contrast + mean + brightness, 0, 255).astype(np.uint8)
