"""Box encodings predicted as distributions over fixed values, trained with distribution focal loss (DFL; Li
et al., "Generalized Focal Loss", 2020).

With box_loss "giou+dfl" the box net predicts, for each of an anchor's encodings (ty, tx, th, tw, the scaled
units of box_coding.BoxCoder), logits over `count` values evenly spaced on [-limit, limit]. BinExpectation,
the box net's last layer, turns them into the expected encoding, so validation, the exported graph and
TFLite_Detection_PostProcess see [B, N, 4] encodings exactly as without bins; the loss reads the logits
through the head's training view (detector.with_box_logits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops


def uses_bins(box_loss: str) -> bool:
    """Whether a box loss (config.BOX_LOSSES) trains a box net that predicts bin logits."""
    return "dfl" in box_loss.split("+")


@dataclass(frozen=True)
class BoxBins:
    """`count` values evenly spaced on [-limit, limit]; a target outside is clipped into the range."""

    count: int = 17
    limit: float = 4.0

    def __post_init__(self) -> None:
        if self.count < 2 or self.limit <= 0:
            raise ValueError(f"box bins need count ≥ 2 and limit > 0, got {self.count} and {self.limit}")

    @property
    def values(self) -> np.ndarray:
        return np.linspace(-self.limit, self.limit, self.count, dtype=np.float32)

    @property
    def step(self) -> float:
        return 2.0 * self.limit / (self.count - 1)


def box_bins_for(config: dict[str, Any]) -> BoxBins | None:
    """The bins a trainer config (TrainerConfig.to_dict(), or a model's trainer.json "config") builds its box
    net with; None when its box loss does not use them."""
    if not uses_bins(config.get("box_loss", "")):
        return None
    return BoxBins(int(config["dfl_bins"]), float(config["dfl_range"]))


def expected_encodings(logits, bins: BoxBins):
    """Bin logits [P, 4 × count] → expected encodings [P, 4]: a softmax over each encoding's bins, then the
    probability-weighted sum of the bin values (a matmul with a constant, FULLY_CONNECTED in TF Lite, which
    full-integer quantization handles)."""
    probabilities = ops.softmax(ops.reshape(logits, (-1, bins.count)), axis=-1)
    return ops.reshape(ops.matmul(probabilities, ops.convert_to_tensor(bins.values[:, None])), (-1, 4))


class BinExpectation(keras.layers.Layer):
    """Bin logits [B, N, 4 × count] → expected encodings [B, N, 4] (expected_encodings of every anchor)."""

    def __init__(self, count: int, limit: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.bins = BoxBins(count, limit)

    def call(self, logits):
        anchors = logits.shape[1]
        return ops.reshape(expected_encodings(logits, self.bins), (-1, anchors, 4))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], 4)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "count": self.bins.count, "limit": self.bins.limit}


def distribution_focal_loss(logits, targets, bins: BoxBins) -> tf.Tensor:
    """DFL of bin logits [P, 4 × count] against target encodings [P, 4] → [P], averaged over the 4
    encodings. A target y between bin values v_i ≤ y ≤ v_i+1 costs
    -((v_i+1 - y) / Δ · log p_i + (y - v_i) / Δ · log p_i+1): the cross-entropy against the two-bin
    distribution whose expectation is y."""
    log_p = tf.nn.log_softmax(tf.reshape(tf.cast(logits, tf.float32), [-1, 4, bins.count]), axis=-1)
    position = (
        tf.clip_by_value(tf.cast(targets, tf.float32), -bins.limit, bins.limit) + bins.limit
    ) / bins.step
    left = tf.clip_by_value(tf.floor(position), 0.0, bins.count - 2.0)
    right_weight = position - left
    left_index = tf.cast(left, tf.int32)[..., None]
    log_left = tf.gather(log_p, left_index, axis=-1, batch_dims=2)[..., 0]
    log_right = tf.gather(log_p, left_index + 1, axis=-1, batch_dims=2)[..., 0]
    return -tf.reduce_mean((1.0 - right_weight) * log_left + right_weight * log_right, axis=-1)
