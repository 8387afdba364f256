"""Anchor generator: the fixed prior boxes the detection head predicts offsets from.

Anchors are laid out level by level (strides 2**min_level .. 2**max_level), then row-major over the
feature map (y, then x), then over the anchor shapes of one position (scale-major, then aspect ratio).
That is exactly the order in which the head reshapes its [B, H, W, A*K] outputs to [B, H*W*A, K], and
the order TFLite_Detection_PostProcess reads its anchor tensor in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorConfig:
    """Anchor layout.

    min_level / max_level: pyramid levels (stride 2**level). num_scales: octave sub-scales per level
    (sizes anchor_scale * stride * 2**(i / num_scales)). aspect_ratios: width / height of each shape.
    """

    min_level: int = 3
    max_level: int = 6
    num_scales: int = 3
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5)
    # 3 (EfficientDet uses 4) so the smallest anchors, 24 px at stride 8, fit small objects such as
    # BCCD's platelets (~0.07 of the image); the largest (stride 64) still cover ~95 % of a 320 px input.
    anchor_scale: float = 3.0

    @property
    def anchors_per_location(self) -> int:
        return self.num_scales * len(self.aspect_ratios)

    @property
    def strides(self) -> list[int]:
        return [2**level for level in range(self.min_level, self.max_level + 1)]


DEFAULT_ANCHORS = AnchorConfig()


def generate_anchors(input_size: int, config: AnchorConfig = DEFAULT_ANCHORS) -> np.ndarray:
    """Anchors for a square input of `input_size` pixels.

    Returns float32 [N, 4] in center-size form (ycenter, xcenter, height, width), normalized to 0..1 by the
    input size, the format TFLite_Detection_PostProcess expects. `input_size` must be divisible by the
    largest stride.
    """
    if input_size % config.strides[-1]:
        raise ValueError(
            f"input_size {input_size} is not divisible by the largest stride {config.strides[-1]}"
        )
    # (height, width) in pixels per anchor of one location, scale-major then ratio
    shapes: list[tuple[float, float]] = []
    per_level = []
    for stride in config.strides:
        shapes = []
        for scale_index in range(config.num_scales):
            base = config.anchor_scale * stride * 2 ** (scale_index / config.num_scales)
            for ratio in config.aspect_ratios:
                shapes.append((base / np.sqrt(ratio), base * np.sqrt(ratio)))
        size = input_size // stride
        centers = (np.arange(size, dtype=np.float64) + 0.5) * stride
        cy, cx = np.meshgrid(centers, centers, indexing="ij")  # [size, size]
        hw = np.asarray(shapes, dtype=np.float64)  # [A, 2]
        level = np.empty((size, size, len(shapes), 4), dtype=np.float64)
        level[..., 0] = cy[:, :, None]
        level[..., 1] = cx[:, :, None]
        level[..., 2] = hw[None, None, :, 0]
        level[..., 3] = hw[None, None, :, 1]
        per_level.append(level.reshape(-1, 4))
    return (np.concatenate(per_level, axis=0) / input_size).astype(np.float32)
