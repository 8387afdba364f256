"""The moving average of the weights: what validation sees and what a stage keeps."""

import numpy as np
import pytest

from edgetrain_trainer.training.averaging import AveragedWeights, ema_momentum
from edgetrain_trainer.training.loop import Stopping
from tests.trainer.regression_stage import regression_stage


@pytest.mark.parametrize(
    "epochs, steps, expected", [(1.0, 100, 0.99), (2.0, 25, 0.98), (0.5, 1, 0.0), (1e6, 10, 0.9999)]
)
def test_momentum_spans_the_requested_epochs(epochs, steps, expected):
    assert ema_momentum(epochs, steps) == pytest.approx(expected)


def test_averaged_weights_are_swapped_in_and_back_out():
    stage = regression_stage(ema_epochs=2.0)
    stage.train_epoch(1)
    with AveragedWeights(stage.model, stage.optimizer):
        inside = stage.model.get_weights()
        averages = [v.numpy() for v in stage.optimizer._model_variables_moving_average]
    after = stage.model.get_weights()
    raw = stage.raw_after_epoch
    np.testing.assert_allclose(inside[0], averages[0])
    assert not np.allclose(inside[0], raw[-1][0])  # the average lags the fast-moving raw weights
    np.testing.assert_array_equal(after[0], raw[-1][0])


def test_before_the_first_step_a_built_optimizer_leaves_the_weights_as_they_are():
    """The train step builds the optimizer up front; its zero-initialised averages are no weights yet."""
    stage = regression_stage(ema_epochs=1.0)
    stage.optimizer.build(stage.model.trainable_variables)
    before = stage.model.get_weights()
    with AveragedWeights(stage.model, stage.optimizer):
        np.testing.assert_array_equal(stage.model.get_weights()[0], before[0])


def test_without_average_the_block_changes_nothing():
    stage = regression_stage(ema_epochs=0.0)
    stage.train_epoch(1)
    with AveragedWeights(stage.model, stage.optimizer):
        np.testing.assert_array_equal(stage.model.get_weights()[0], stage.raw_after_epoch[-1][0])


def test_stage_evaluates_and_keeps_the_averaged_weights_of_its_best_epoch():
    stage = regression_stage(ema_epochs=1.0)
    seen, metrics = [], iter([0.2, 0.9, 0.4])

    def evaluate():
        seen.append(stage.model.get_weights())
        return 0.0, next(metrics)

    outcome = stage.run(evaluate, stopping=Stopping(patience=5))
    assert outcome.best_score == 0.9 and outcome.epochs == 3
    kept = stage.model.get_weights()
    raw = stage.raw_after_epoch
    np.testing.assert_array_equal(kept[0], seen[1][0])  # epoch 2's averaged weights
    assert not np.allclose(seen[1][0], raw[1][0])  # ... which are not epoch 2's raw weights
