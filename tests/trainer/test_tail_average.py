"""The tail average: its arithmetic, and when the stage loop averages, evaluates and keeps it."""

import numpy as np
import pytest

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.errors import InvalidArgumentError
from edgetrain_trainer.training.averaging import TailAverage
from edgetrain_trainer.training.loop import Stopping
from tests.trainer.regression_stage import regression_stage


def test_average_is_the_uniform_mean_in_the_original_dtypes():
    tail = TailAverage()
    tail.add([np.array([1.0, 2.0], np.float32), np.array([[4.0]], np.float16)], 0.5)
    tail.add([np.array([3.0, 6.0], np.float32), np.array([[8.0]], np.float16)], 0.7)
    weights = tail.weights()
    np.testing.assert_array_equal(weights[0], [2.0, 4.0])
    assert weights[0].dtype == np.float32 and weights[1].dtype == np.float16
    np.testing.assert_array_equal(weights[1], [[6.0]])
    assert (tail.count, tail.mean_metric) == (2, pytest.approx(0.6))


def test_weights_of_another_model_are_refused():
    tail = TailAverage()
    tail.add([np.zeros(2)], 0.1)
    with pytest.raises(ValueError, match="expected 1 weight arrays, got 2"):
        tail.add([np.zeros(2), np.zeros(1)], 0.1)


def test_an_empty_average_has_no_weights():
    with pytest.raises(ValueError, match="no weights averaged"):
        TailAverage().weights()


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_config_refuses_a_fraction_outside_0_to_1(fraction):
    with pytest.raises(InvalidArgumentError, match="tail_average_lr_fraction must be in"):
        TrainerConfig.from_overrides({"tail_average_lr_fraction": fraction})


def _run(metrics, fraction, keep_above=-1.0, max_epochs=6):
    """The stage loop on the regression model; validation returns `metrics` in turn. Returns the outcome,
    the weights validated at each call, the weights the stage left in the model and its report notes."""
    stage = regression_stage(1.0, max_epochs=max_epochs)
    seen = [stage.model.get_weights()]  # seen[0]: the weights the stage starts from
    scores, notes = iter(metrics), []

    def evaluate():
        seen.append(stage.model.get_weights())
        return next(scores), 0.0

    def report(r):
        notes.append(r.note)

    outcome = stage.run(
        evaluate,
        report,
        name="finetune",
        stopping=Stopping(patience=100),
        tail_average_lr_fraction=fraction,
        keep_above=keep_above,
    )
    return outcome, seen, stage.model.get_weights(), notes


def _mean(weight_lists):
    return [np.mean(arrays, axis=0) for arrays in zip(*weight_lists, strict=True)]


def test_stage_averages_the_low_rate_epochs_and_keeps_the_average_when_it_validates_as_well():
    # six epochs of a cosine over six: the rate is at or below half the peak after epochs 4, 5 and 6
    outcome, seen, kept, notes = _run([0.2, 0.5, 0.6, 0.7, 0.9, 0.8, 0.85], fraction=0.5)
    assert len(seen) == 8  # the start, six epochs, then the average
    for got, expected in zip(seen[7], _mean(seen[4:7]), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    for got, expected in zip(kept, seen[7], strict=True):
        np.testing.assert_array_equal(got, expected)
    assert outcome.best_map50 == 0.85  # the kept weights' validation, though epoch 5 scored 0.9
    assert notes[-1] == (
        "average of the weights of 3 epochs at a learning rate ≤ 0.5 × peak: "
        "validation 0.850 against their mean 0.800; kept"
    )


def test_an_average_that_validates_below_its_epochs_is_not_kept():
    outcome, seen, kept, notes = _run([0.2, 0.5, 0.6, 0.7, 0.9, 0.8, 0.75], fraction=0.5)
    for got, expected in zip(kept, seen[5], strict=True):  # epoch 5, the best
        np.testing.assert_array_equal(got, expected)
    assert outcome.best_map50 == 0.9
    assert notes[-1].endswith("against their mean 0.800; not kept, the best epoch's weights (0.900) are")


def test_an_average_below_the_previous_stage_is_not_kept():
    # no epoch beat the head stage's 0.95, nor does the average: the stage leaves its starting weights
    outcome, seen, kept, _ = _run([0.2, 0.5, 0.6, 0.7, 0.9, 0.8, 0.9], fraction=0.5, keep_above=0.95)
    for got, expected in zip(kept, seen[0], strict=True):
        np.testing.assert_array_equal(got, expected)
    assert not np.allclose(seen[7][0], seen[0][0])  # the average was elsewhere
    assert outcome.best_map50 == 0.95


def test_without_a_fraction_nothing_is_averaged():
    _, seen, _, notes = _run([0.2, 0.5, 0.6, 0.7, 0.9, 0.8], fraction=0.0)
    assert len(seen) == 7 and not any(notes)  # the start and six epochs
