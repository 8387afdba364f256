"""freeze_early_layers: the backbone layers at stride ≤ N stop training; the rest still learns."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from edgetrain_trainer.model.backbones import build_backbone, freeze_early_layers

INPUT = 128


def _stride(layer) -> int:
    return INPUT // layer.output.shape[1]


def _weighted(backbone):
    return [layer for layer in backbone.layers if layer.weights]


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_lite0"])
def test_layers_at_stride_4_or_less_are_frozen_and_the_rest_train(name):
    backbone = build_backbone(name, INPUT, weights=False)
    frozen = freeze_early_layers(backbone, 4)

    early = [layer for layer in _weighted(backbone) if _stride(layer) <= 4]
    assert frozen == len(early) > 0
    assert all(not layer.trainable for layer in early)
    assert all(layer.trainable for layer in _weighted(backbone) if _stride(layer) > 4)
    assert {_stride(layer) for layer in early} == {2, 4}


def test_stride_0_freezes_nothing():
    backbone = build_backbone("mobilenet_v2", INPUT, weights=False)
    assert freeze_early_layers(backbone, 0) == 0
    assert all(layer.trainable for layer in backbone.layers)


def test_a_training_step_leaves_frozen_weights_and_moves_the_others():
    keras.utils.set_random_seed(0)
    backbone = build_backbone("mobilenet_v2", INPUT, weights=False)
    freeze_early_layers(backbone, 4)
    frozen = [w for layer in _weighted(backbone) if not layer.trainable for w in layer.weights]
    before_frozen = [w.numpy().copy() for w in frozen]
    trainable = [layer for layer in _weighted(backbone) if layer.trainable]
    before_trainable = [[w.numpy().copy() for w in layer.weights] for layer in trainable]

    images = tf.random.uniform((2, INPUT, INPUT, 3), 0, 255, seed=1)
    with tf.GradientTape() as tape:
        loss = sum(tf.reduce_mean(tf.square(c)) for c in backbone(images, training=True))
    grads = tape.gradient(loss, backbone.trainable_variables)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, backbone.trainable_variables, strict=True))

    for w, old in zip(frozen, before_frozen, strict=True):
        np.testing.assert_array_equal(w.numpy(), old, err_msg=w.path)
    # every trainable layer learns (a batch-norm gamma's gradient can be too small to move it in one step)
    for layer, old in zip(trainable, before_trainable, strict=True):
        moved = [not np.array_equal(w.numpy(), o) for w, o in zip(layer.weights, old, strict=True)]
        assert any(moved), layer.name
