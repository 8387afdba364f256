"""Training losses: sigmoid focal loss for classes, Huber loss for box encodings.

Targets come from box_coding.AnchorMatcher: class_targets [B, N] int (class id, BACKGROUND_CLASS or
IGNORE_CLASS), box_targets [B, N, 4] encodings. Both losses are normalized by the number of positive anchors.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from .box_coding import IGNORE_CLASS


@dataclass(frozen=True)
class DetectionLoss:
    """alpha / gamma: focal loss (EfficientDet uses 0.25 / 1.5). huber_delta: on the scaled encodings.
    box_weight: weight of the box loss in the total."""

    num_classes: int
    alpha: float = 0.25
    gamma: float = 1.5
    huber_delta: float = 1.0
    box_weight: float = 1.0

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

        err = tf.abs(tf.cast(box_pred, tf.float32) - box_targets)
        huber = tf.where(
            err < self.huber_delta, 0.5 * err**2, self.huber_delta * (err - 0.5 * self.huber_delta)
        )
        box_loss = tf.reduce_sum(huber * positive[..., None]) / num_positive
        total = class_loss + self.box_weight * box_loss
        return {"total": total, "class": class_loss, "box": box_loss}


def count_positives(class_targets) -> tf.Tensor:
    """The losses' normalizer: positive anchors in class_targets [B, N], at least 1."""
    return tf.maximum(tf.reduce_sum(tf.cast(tf.cast(class_targets, tf.int32) >= 0, tf.float32)), 1.0)
