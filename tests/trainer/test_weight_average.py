"""The moving average of the weights: what validation sees and what a stage keeps."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from edgetrain_trainer.budget import BudgetClock, EarlyStopping
from edgetrain_trainer.fit import AveragedWeights, StageSettings, ema_momentum, make_optimizer, run_stage


@pytest.mark.parametrize(
    "epochs, steps, expected", [(1.0, 100, 0.99), (2.0, 25, 0.98), (0.5, 1, 0.0), (1e6, 10, 0.9999)]
)
def test_momentum_spans_the_requested_epochs(epochs, steps, expected):
    assert ema_momentum(epochs, steps) == pytest.approx(expected)


def _regression(ema_epochs: float, max_epochs: int = 3, steps_per_epoch: int = 4):
    """A one-layer model, its optimizer and an epoch function fitting y = 3x on fixed data."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    settings = StageSettings("head", max_epochs, 4, 0.1, 1.0)
    optimizer, schedule = make_optimizer(settings, steps_per_epoch, 0.0, 10.0, ema_epochs)
    x = tf.constant(np.linspace(-1, 1, 4, dtype=np.float32)[:, None])
    raw_after_epoch = []

    def train_epoch(epoch):
        for _ in range(steps_per_epoch):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(x) - 3.0 * x) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        raw_after_epoch.append(model.get_weights())
        return {"total": float(loss)}

    return model, optimizer, schedule, settings, train_epoch, raw_after_epoch


def test_averaged_weights_are_swapped_in_and_back_out():
    model, optimizer, _, _, train_epoch, raw = _regression(ema_epochs=2.0)
    train_epoch(1)
    with AveragedWeights(model, optimizer):
        inside = model.get_weights()
        averages = [v.numpy() for v in optimizer._model_variables_moving_average]
    after = model.get_weights()
    np.testing.assert_allclose(inside[0], averages[0])
    assert not np.allclose(inside[0], raw[-1][0])  # the average lags the fast-moving raw weights
    np.testing.assert_array_equal(after[0], raw[-1][0])


def test_without_average_the_block_changes_nothing():
    model, optimizer, _, _, train_epoch, raw = _regression(ema_epochs=0.0)
    train_epoch(1)
    with AveragedWeights(model, optimizer):
        np.testing.assert_array_equal(model.get_weights()[0], raw[-1][0])


def test_stage_evaluates_and_keeps_the_averaged_weights_of_its_best_epoch():
    model, optimizer, schedule, settings, train_epoch, raw = _regression(ema_epochs=1.0)
    seen, metrics = [], iter([0.2, 0.9, 0.4])

    def evaluate():
        seen.append(model.get_weights())
        return next(metrics), 0.0

    outcome = run_stage(
        settings,
        train_epoch,
        evaluate,
        model,
        BudgetClock(1000),
        EarlyStopping(patience=5),
        lambda *args: None,
        optimizer,
        schedule,
        4,
    )
    assert outcome.best_map50 == 0.9 and outcome.epochs == 3
    kept = model.get_weights()
    np.testing.assert_array_equal(kept[0], seen[1][0])  # epoch 2's averaged weights
    assert not np.allclose(seen[1][0], raw[1][0])  # ... which are not epoch 2's raw weights
