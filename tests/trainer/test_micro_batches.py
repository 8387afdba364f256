"""Micro-batched training steps: the same update as the whole batch, with fewer samples per pass."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from edgetrain_trainer.model.box_coding import BACKGROUND_CLASS, IGNORE_CLASS
from edgetrain_trainer.model.losses import DetectionLoss
from edgetrain_trainer.training.loop import make_train_step, pass_size


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


def _assert_same_step(build, inputs, class_targets, box_targets, num_classes: int, micro_batch: int):
    """One SGD step of build()'s model (built afresh, same seed) in micro-batches gives the one-pass step's
    losses and weights."""
    results = []
    for size in (0, micro_batch):
        model = build()
        step = make_train_step(model, keras.optimizers.SGD(0.1), DetectionLoss(num_classes), size)
        losses = {k: float(v) for k, v in step(inputs, class_targets, box_targets).items()}
        results.append((losses, model.get_weights()))
    (whole_losses, whole_weights), (micro_losses, micro_weights) = results
    assert micro_losses == pytest.approx(whole_losses, rel=1e-5)
    for whole, micro in zip(whole_weights, micro_weights, strict=True):
        np.testing.assert_allclose(micro, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("micro_batch", [1, 2, 4])
def test_micro_batches_make_the_whole_batch_update(micro_batch):
    """Positives unevenly spread over the samples: per-pass normalization would differ from the batch's."""
    anchors, classes, batch = 6, 3, 8

    def build():
        keras.utils.set_random_seed(1)  # a small box/class predictor, no batch norm
        inputs = keras.Input((anchors, 5))
        hidden = keras.layers.Dense(16, activation="relu")(inputs)
        return keras.Model(inputs, [keras.layers.Dense(4)(hidden), keras.layers.Dense(classes)(hidden)])

    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch, anchors, 5)).astype(np.float32))
    class_targets = np.full((batch, anchors), BACKGROUND_CLASS, np.int32)
    class_targets[0, :4] = [0, 1, 2, 0]  # most positives in the first half
    class_targets[5, 0] = 1
    class_targets[6, 1] = IGNORE_CLASS
    box_targets = tf.constant(rng.standard_normal((batch, anchors, 4)).astype(np.float32))
    _assert_same_step(build, x, tf.constant(class_targets), box_targets, classes, micro_batch)


def test_head_inputs_given_as_a_list_of_levels_are_sliced_together():
    def build():
        keras.utils.set_random_seed(2)
        levels = [keras.Input((4, 2)), keras.Input((2, 2))]
        merged = keras.layers.Concatenate(axis=1)(levels)
        return keras.Model(levels, [keras.layers.Dense(4)(merged), keras.layers.Dense(2)(merged)])

    rng = np.random.default_rng(3)
    feats = [tf.constant(rng.standard_normal((4, n, 2)).astype(np.float32)) for n in (4, 2)]
    class_targets = tf.constant(rng.integers(-1, 2, (4, 6)).astype(np.int32))
    box_targets = tf.constant(rng.standard_normal((4, 6, 4)).astype(np.float32))
    _assert_same_step(build, feats, class_targets, box_targets, 2, micro_batch=1)
