"""Micro-batched training steps: the same update as the whole batch, with fewer samples per pass."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from edgetrain_trainer.box_coding import BACKGROUND_CLASS, IGNORE_CLASS
from edgetrain_trainer.fit import make_train_step, pass_size
from edgetrain_trainer.losses import DetectionLoss


@pytest.mark.parametrize(
    "batch, input_size, megapixels, expected",
    [
        (8, 320, 0.85, 8),  # 0.82 MP: one pass
        (8, 384, 0.85, 4),  # 5 would fit; 4 is the largest divisor that does
        (8, 448, 0.85, 4),
        (8, 512, 0.85, 2),
        (3, 448, 0.85, 3),
        (8, 2048, 0.85, 1),  # not even one image fits: one at a time
    ],
)
def test_pass_size_is_the_largest_divisor_within_the_pixel_budget(batch, input_size, megapixels, expected):
    assert pass_size(batch, input_size, megapixels) == expected


def _detector_and_batch(anchors: int = 6, classes: int = 3, batch: int = 8):
    """A small box/class predictor over [B, anchors, 5] inputs (no batch norm), and a batch of targets with
    positives unevenly spread over the samples, so per-pass normalization would differ from the batch's."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((anchors, 5))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(4)(hidden), keras.layers.Dense(classes)(hidden)])
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch, anchors, 5)).astype(np.float32))
    class_targets = np.full((batch, anchors), BACKGROUND_CLASS, np.int32)
    class_targets[0, :4] = [0, 1, 2, 0]  # most positives in the first half
    class_targets[5, 0] = 1
    class_targets[6, 1] = IGNORE_CLASS
    box_targets = tf.constant(rng.standard_normal((batch, anchors, 4)).astype(np.float32))
    return model, x, tf.constant(class_targets), box_targets


@pytest.mark.parametrize("micro_batch", [1, 2, 4])
def test_micro_batches_make_the_whole_batch_update(micro_batch):
    weights, losses = {}, {}
    for size in (0, micro_batch):
        model, x, class_targets, box_targets = _detector_and_batch()
        step = make_train_step(model, keras.optimizers.SGD(0.1), DetectionLoss(num_classes=3), size)
        losses[size] = {k: float(v) for k, v in step(x, class_targets, box_targets).items()}
        weights[size] = model.get_weights()
    assert losses[micro_batch] == pytest.approx(losses[0], rel=1e-5)
    for whole, micro in zip(weights[0], weights[micro_batch], strict=True):
        np.testing.assert_allclose(micro, whole, rtol=1e-5, atol=1e-6)


def test_head_inputs_given_as_a_list_of_levels_are_sliced_together():
    keras.utils.set_random_seed(2)
    levels = [keras.Input((4, 2)), keras.Input((2, 2))]
    merged = keras.layers.Concatenate(axis=1)(levels)
    model = keras.Model(levels, [keras.layers.Dense(4)(merged), keras.layers.Dense(2)(merged)])
    rng = np.random.default_rng(3)
    feats = [tf.constant(rng.standard_normal((4, n, 2)).astype(np.float32)) for n in (4, 2)]
    class_targets = tf.constant(rng.integers(-1, 2, (4, 6)).astype(np.int32))
    box_targets = tf.constant(rng.standard_normal((4, 6, 4)).astype(np.float32))
    before = model.get_weights()
    whole = make_train_step(model, keras.optimizers.SGD(0.1), DetectionLoss(num_classes=2), 0)
    expected = whole(feats, class_targets, box_targets)
    expected_weights = model.get_weights()
    model.set_weights(before)
    micro = make_train_step(model, keras.optimizers.SGD(0.1), DetectionLoss(num_classes=2), 1)
    got = micro(feats, class_targets, box_targets)
    assert float(got["total"]) == pytest.approx(float(expected["total"]), rel=1e-5)
    for a, b in zip(model.get_weights(), expected_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
