"""Budget clock and early stopping with a fake clock."""

import pytest

from edgetrain_trainer.budget import BudgetClock, EarlyStopping


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_budget_is_wall_time_minus_reserve():
    clock = FakeClock()
    budget = BudgetClock(1000, reserve_seconds=600, clock=clock)  # one node hour
    assert budget.train_seconds == 3000
    clock.now += 1500
    assert budget.train_fraction() == pytest.approx(0.5)
    assert not budget.training_time_spent()
    clock.now += 1500
    assert budget.training_time_spent()


def test_max_train_seconds_caps_training_time():
    budget = BudgetClock(1000, reserve_seconds=60, max_train_seconds=900, clock=FakeClock())
    assert budget.train_seconds == 900


def test_cost_rounds_up_and_never_exceeds_budget():
    clock = FakeClock()
    budget = BudgetClock(1000, clock=clock)
    clock.now += 3.7  # just over 1 milli node hour (3.6 s)
    assert budget.cost_milli_node_hours() == 2
    clock.now += 10_000
    assert budget.cost_milli_node_hours() == 1000


def test_early_stopping_converges_after_patience_without_gain():
    stopper = EarlyStopping(patience=2, min_delta=0.01)
    assert stopper.update(0.5, 1)
    assert stopper.update(0.6, 2)
    assert stopper.update(0.605, 3)  # gain below min_delta: keep the later weights, patience runs on
    assert not stopper.converged
    assert not stopper.update(0.59, 4)
    assert stopper.converged
    assert (stopper.best, stopper.best_step) == (0.605, 3)


def test_improvement_resets_patience():
    stopper = EarlyStopping(patience=2)
    stopper.update(0.5, 1)
    stopper.update(0.4, 2)
    stopper.update(0.7, 3)
    stopper.update(0.6, 4)
    assert not stopper.converged
