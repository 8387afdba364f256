"""Learning-rate schedule that re-plans its length from the time left."""

import pytest

from edgetrain_trainer.training.loop import RateSchedule, make_optimizer
from edgetrain_trainer.training.schedule import BudgetCosine, planned_epochs


def test_warmup_then_cosine_to_floor():
    schedule = BudgetCosine(1.0, warmup_steps=10, total_steps=110, alpha=0.05)
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(60)) == pytest.approx(0.525)  # half-way: (1 + 0.05) / 2
    assert float(schedule(110)) == pytest.approx(0.05)
    assert float(schedule(500)) == pytest.approx(0.05)


def test_replanning_shortens_the_decay():
    schedule = BudgetCosine(1.0, warmup_steps=10, total_steps=1000)
    schedule.replan(60)
    assert float(schedule(60)) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "epoch, max_epochs, seconds_left, epoch_seconds, expected",
    [(3, 80, 100.0, 20.0, 8), (3, 5, 1000.0, 20.0, 5), (3, 80, 5.0, 20.0, 3), (1, 7, 10.0, 0.0, 7)],
)
def test_planned_epochs_fit_the_time_left(epoch, max_epochs, seconds_left, epoch_seconds, expected):
    assert planned_epochs(epoch, max_epochs, seconds_left, epoch_seconds) == expected


def test_cool_down_continues_from_the_current_rate_to_the_floor():
    schedule = BudgetCosine(1.0, warmup_steps=10, total_steps=1000, alpha=0.05)
    before = float(schedule(200))
    schedule.cool_down(200, 40)
    assert schedule.cooling
    assert float(schedule(200)) == pytest.approx(before)  # no jump
    assert float(schedule(220)) == pytest.approx(0.05 + (before - 0.05) / 2)
    assert float(schedule(240)) == pytest.approx(0.05)


def test_replanning_cannot_extend_a_cool_down_only_shorten_it():
    schedule = BudgetCosine(1.0, warmup_steps=10, total_steps=1000)
    schedule.cool_down(200, 40)
    schedule.replan(900)
    assert float(schedule(240)) == pytest.approx(0.05)
    schedule.replan(220)  # the budget runs out first
    assert float(schedule(220)) == pytest.approx(0.05)


def test_a_stage_warms_up_over_its_warmup_epochs_but_at_most_half_the_stage():
    rates = RateSchedule(learning_rate=1e-3, warmup_epochs=3)
    _, schedule = make_optimizer(rates, 20, max_epochs=100)
    assert float(schedule(29)) == pytest.approx(0.5e-3)
    assert float(schedule(59)) == pytest.approx(1e-3)

    _, schedule = make_optimizer(rates, 20, max_epochs=4)
    assert float(schedule(39)) == pytest.approx(1e-3)
