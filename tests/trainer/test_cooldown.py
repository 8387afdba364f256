"""The stage loop on a validation plateau: cool the learning rate down, then stop."""

import pytest

from edgetrain_trainer.training.budget import BudgetClock
from edgetrain_trainer.training.loop import Stopping
from tests.trainer.regression_stage import regression_stage


class _Clock:
    """A fake clock; _run advances it 10 s per validation, so epochs take 10 s."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(metrics: list[float], cooldown_epochs: int, max_epochs: int = 20, patience_seconds: float = 0.0):
    stage = regression_stage(0.0, max_epochs=max_epochs)
    scores, rates, notes = iter(metrics), [], []
    time = _Clock()

    def evaluate():
        time.now += 10
        return 0.0, next(scores)  # (mAP@0.5, mAP@[.5:.95]): the stopping metric is the second

    def report(r):
        rates.append(r.learning_rate)
        notes.append(r.note)

    stopping = Stopping(patience=2, patience_seconds=patience_seconds, cooldown_epochs=cooldown_epochs)
    outcome = stage.run(evaluate, report, BudgetClock(1000, clock=time), name="finetune", stopping=stopping)
    return outcome, rates, notes


def test_without_cool_down_the_stage_stops_when_patience_runs_out():
    outcome, _, notes = _run([0.5, 0.6, 0.6, 0.59] + [0.0] * 16, cooldown_epochs=0)
    assert (outcome.ended_by, outcome.epochs, outcome.best_score) == ("converged", 4, 0.6)
    assert not any(notes)


def test_with_a_time_floor_the_stage_waits_that_long_after_its_best():
    outcome, _, _ = _run([0.5, 0.6, 0.6, 0.59] + [0.55] * 16, cooldown_epochs=0, patience_seconds=50)
    assert (outcome.ended_by, outcome.epochs) == ("converged", 7)  # best at 20 s, 50 s later: epoch 7


def test_plateau_decays_the_rate_to_its_floor_over_the_cool_down_then_stops():
    outcome, rates, notes = _run([0.5, 0.6, 0.6, 0.59, 0.55, 0.58, 0.6] + [0.0] * 13, cooldown_epochs=3)
    assert (outcome.ended_by, outcome.epochs) == ("converged", 7)  # patience ran out at 4, then 3 more
    assert notes[3] == (
        "no validation gain for 2 epochs (0 min): "
        "decaying the learning rate over 3 more epochs, then stopping"
    )
    assert rates[4] < rates[3] * 0.9  # the planned decay was over 20 epochs; the cool-down is 3
    assert rates[-1] == pytest.approx(0.1 * 0.05)  # the floor: alpha x peak


def test_a_gain_during_the_cool_down_is_kept():
    outcome, _, _ = _run([0.5, 0.6, 0.6, 0.59, 0.7, 0.65, 0.6] + [0.0] * 13, cooldown_epochs=3)
    assert (outcome.epochs, outcome.best_score) == (7, 0.7)


def test_cool_down_cut_by_the_epoch_cap_still_ends_the_stage():
    outcome, rates, _ = _run([0.5, 0.6, 0.6, 0.59, 0.5, 0.5], cooldown_epochs=5, max_epochs=6)
    assert (outcome.ended_by, outcome.epochs) == ("epochs", 6)
    assert rates[-1] == pytest.approx(0.1 * 0.05)
