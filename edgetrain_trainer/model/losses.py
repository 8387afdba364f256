"""Training losses: sigmoid focal loss for classes; Huber loss on the box encodings and/or GIoU loss on the
boxes they decode to.

Targets come from box_coding.AnchorMatcher: class_targets [B, N] int (class id, BACKGROUND_CLASS or
IGNORE_CLASS), box_targets [B, N, 4] encodings. All losses are normalized by the number of positive anchors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..config import BOX_LOSSES
from .box_coding import IGNORE_CLASS
from .iou_losses import decode_tf, iou_and_giou


@dataclass(frozen=True)
class DetectionLoss:
    """alpha / gamma: focal loss (EfficientDet uses 0.25 / 1.5). huber_delta: on the scaled encodings.
    box_weight: weight of the Huber loss in the total.
    box_loss: "huber" on the encodings, "giou" (1 - GIoU of the decoded boxes, Rezatofighi et al., 2019),
    or "huber+giou". giou_weight: weight of the GIoU term (mmdetection's RetinaNet-GIoU uses 2). GIoU needs
    `anchors` [N, 4] centre-size, the ones the encodings are relative to; the head still predicts encodings,
    so the exported post-processing decodes exactly as before."""

    num_classes: int
    alpha: float = 0.25
    gamma: float = 1.5
    huber_delta: float = 1.0
    box_weight: float = 1.0
    box_loss: str = "huber"
    giou_weight: float = 2.0
    anchors: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.box_loss not in BOX_LOSSES:
            raise ValueError(f"box_loss must be one of {BOX_LOSSES}, got {self.box_loss!r}")
        if self.box_loss != "huber" and self.anchors is None:
            raise ValueError(f"box_loss {self.box_loss!r} needs the anchors")

    def __call__(
        self, class_targets, box_targets, box_pred, class_logits, num_positive=None
    ) -> dict[str, tf.Tensor]:
        """Returns {"total", "class", "box"} scalar losses. num_positive: the normalizer, when these samples
        are a slice of a larger batch (count_positives of the whole batch); None: this batch's own."""
        class_targets = tf.cast(class_targets, tf.int32)
        positive = tf.cast(class_targets >= 0, tf.float32)  # [B, N]
        valid = tf.cast(class_targets != IGNORE_CLASS, tf.float32)
        if num_positive is None:
            num_positive = count_positives(class_targets)

        onehot = tf.one_hot(tf.maximum(class_targets, 0), self.num_classes) * positive[..., None]
        logits = tf.cast(class_logits, tf.float32)
        prob = tf.sigmoid(logits)
        ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=onehot, logits=logits)
        p_t = onehot * prob + (1 - onehot) * (1 - prob)
        alpha_t = onehot * self.alpha + (1 - onehot) * (1 - self.alpha)
        focal = alpha_t * tf.pow(1 - p_t, self.gamma) * ce
        class_loss = tf.reduce_sum(focal * valid[..., None]) / num_positive

        box_pred = tf.cast(box_pred, tf.float32)
        box_targets = tf.cast(box_targets, tf.float32)
        box_loss = tf.constant(0.0)
        if self.box_loss in ("huber", "huber+giou"):
            err = tf.abs(box_pred - box_targets)
            huber = tf.where(
                err < self.huber_delta, 0.5 * err**2, self.huber_delta * (err - 0.5 * self.huber_delta)
            )
            box_loss += self.box_weight * tf.reduce_sum(huber * positive[..., None]) / num_positive
        if self.box_loss in ("giou", "huber+giou"):
            # only the positive anchors (a few per thousand): decoding all of them costs more than the rest
            where = tf.where(positive > 0)  # [P, 2] (sample, anchor)
            anchors = tf.gather(tf.constant(self.anchors, tf.float32), where[:, 1])
            _, giou = iou_and_giou(
                decode_tf(tf.gather_nd(box_pred, where), anchors),
                decode_tf(tf.gather_nd(box_targets, where), anchors),
            )
            box_loss += self.giou_weight * tf.reduce_sum(1.0 - giou) / num_positive
        total = class_loss + box_loss
        return {"total": total, "class": class_loss, "box": box_loss}


def count_positives(class_targets) -> tf.Tensor:
    """The losses' normalizer: positive anchors in class_targets [B, N], at least 1."""
    return tf.maximum(tf.reduce_sum(tf.cast(tf.cast(class_targets, tf.int32) >= 0, tf.float32)), 1.0)
