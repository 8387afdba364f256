"""Budget clock and early stopping with a fake clock."""

import pytest

from edgetrain_trainer.training.budget import BudgetClock, EarlyStopping


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
    assert budget.seconds_at(0.4) == pytest.approx(360)  # stage deadlines are fractions of the capped time


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


def test_a_time_floor_keeps_short_epochs_going_until_enough_time_passed_without_gain():
    stopper = EarlyStopping(patience=2, patience_seconds=300)
    stopper.update(0.6, 1, at=100)
    stopper.update(0.5, 2, at=120)
    stopper.update(0.5, 3, at=140)
    assert stopper.epochs_without_gain == 2 and not stopper.converged  # 40 s of the 300 waited
    stopper.update(0.55, 17, at=400)
    assert stopper.seconds_without_gain == 300 and stopper.converged


def test_a_time_floor_does_not_stop_before_the_epoch_patience():
    stopper = EarlyStopping(patience=3, patience_seconds=60)
    stopper.update(0.6, 1, at=0)
    stopper.update(0.5, 2, at=500)  # long epochs: the time floor is met at once
    assert not stopper.converged
    stopper.update(0.5, 3, at=1000)
    stopper.update(0.5, 4, at=1500)
    assert stopper.converged


def test_a_gain_restarts_the_time_floor():
    stopper = EarlyStopping(patience=1, patience_seconds=100)
    stopper.update(0.5, 1, at=0)
    stopper.update(0.4, 2, at=90)
    stopper.update(0.7, 3, at=95)
    stopper.update(0.6, 4, at=150)
    assert not stopper.converged  # 55 s since the gain at 95 s
    stopper.update(0.6, 5, at=195)
    assert stopper.converged
