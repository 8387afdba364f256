"""Box encoding, anchor matching and decoding.

Box formats: `yxyx` = (ymin, xmin, ymax, xmax) normalized 0..1; anchors are center-size
(ycenter, xcenter, height, width) normalized. Encodings are the Faster R-CNN offsets
(ty, tx, th, tw) multiplied by BoxCoder scales, the convention TFLite_Detection_PostProcess decodes with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Class-target markers for anchors that are not assigned to an object.
BACKGROUND_CLASS = -1  # negative anchor: every class target is 0
IGNORE_CLASS = -2  # between the thresholds: contributes no loss


@dataclass(frozen=True)
class BoxCoder:
    """Scale factors of the encoding (the TF Object Detection API defaults)."""

    y_scale: float = 10.0
    x_scale: float = 10.0
    h_scale: float = 5.0
    w_scale: float = 5.0

    def encode(self, boxes_yxyx: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """boxes [N, 4] yxyx, anchors [N, 4] center-size → encodings [N, 4] (ty, tx, th, tw)."""
        h = np.maximum(boxes_yxyx[:, 2] - boxes_yxyx[:, 0], 1e-6)
        w = np.maximum(boxes_yxyx[:, 3] - boxes_yxyx[:, 1], 1e-6)
        yc = boxes_yxyx[:, 0] + 0.5 * h
        xc = boxes_yxyx[:, 1] + 0.5 * w
        ya, xa, ha, wa = anchors.T
        return np.stack(
            [
                (yc - ya) / ha * self.y_scale,
                (xc - xa) / wa * self.x_scale,
                np.log(h / ha) * self.h_scale,
                np.log(w / wa) * self.w_scale,
            ],
            axis=-1,
        ).astype(np.float32)

    def decode(self, encodings: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """encodings [..., N, 4] (ty, tx, th, tw), anchors [N, 4] center-size → boxes [..., N, 4] yxyx."""
        ya, xa, ha, wa = anchors.T
        yc = encodings[..., 0] / self.y_scale * ha + ya
        xc = encodings[..., 1] / self.x_scale * wa + xa
        h = np.exp(encodings[..., 2] / self.h_scale) * ha
        w = np.exp(encodings[..., 3] / self.w_scale) * wa
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1).astype(np.float32)


DEFAULT_CODER = BoxCoder()


def center_size_to_yxyx(anchors: np.ndarray) -> np.ndarray:
    """[N, 4] (yc, xc, h, w) → [N, 4] (ymin, xmin, ymax, xmax)."""
    yc, xc, h, w = anchors.T
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)


def iou_matrix(a_yxyx: np.ndarray, b_yxyx: np.ndarray) -> np.ndarray:
    """Pairwise IoU: a [N, 4], b [M, 4] (yxyx) → [N, M]."""
    ymin = np.maximum(a_yxyx[:, None, 0], b_yxyx[None, :, 0])
    xmin = np.maximum(a_yxyx[:, None, 1], b_yxyx[None, :, 1])
    ymax = np.minimum(a_yxyx[:, None, 2], b_yxyx[None, :, 2])
    xmax = np.minimum(a_yxyx[:, None, 3], b_yxyx[None, :, 3])
    inter = np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None)
    area_a = (a_yxyx[:, 2] - a_yxyx[:, 0]) * (a_yxyx[:, 3] - a_yxyx[:, 1])
    area_b = (b_yxyx[:, 2] - b_yxyx[:, 0]) * (b_yxyx[:, 3] - b_yxyx[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


@dataclass(frozen=True)
class AnchorMatcher:
    """Assigns each anchor a class target and a box target.

    IoU ≥ positive_iou → that object; < negative_iou → BACKGROUND_CLASS; in between → IGNORE_CLASS.
    Each object's best anchor is always positive, so no object goes unlearned (small or odd-shaped boxes).
    """

    anchors: np.ndarray  # [N, 4] center-size
    coder: BoxCoder = DEFAULT_CODER
    positive_iou: float = 0.5
    negative_iou: float = 0.4
    _anchors_yxyx: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_anchors_yxyx", center_size_to_yxyx(self.anchors))

    def match(self, boxes_yxyx: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """boxes [G, 4] yxyx, classes [G] int → (class_targets [N] int32, box_targets [N, 4] float32).

        class_targets holds the class id, BACKGROUND_CLASS or IGNORE_CLASS; box_targets are encodings
        (zeros where the anchor is not positive).
        """
        n = len(self.anchors)
        class_targets = np.full(n, BACKGROUND_CLASS, dtype=np.int32)
        box_targets = np.zeros((n, 4), dtype=np.float32)
        if len(boxes_yxyx) == 0:
            return class_targets, box_targets
        iou = iou_matrix(self._anchors_yxyx, boxes_yxyx)  # [N, G]
        best_gt = iou.argmax(axis=1)
        best_iou = iou[np.arange(n), best_gt]
        class_targets[best_iou >= self.negative_iou] = IGNORE_CLASS
        positive = best_iou >= self.positive_iou
        forced = iou.argmax(axis=0)  # each object's best anchor
        best_gt[forced] = np.arange(len(boxes_yxyx))
        positive[forced] = True
        class_targets[positive] = classes[best_gt[positive]]
        box_targets[positive] = self.coder.encode(boxes_yxyx[best_gt[positive]], self.anchors[positive])
        return class_targets, box_targets
