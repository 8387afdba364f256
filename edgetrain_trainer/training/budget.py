"""Budget clock and early stopping: pure logic, the clock is injected so tests use a fake one.

AutoML budgets are milli node hours: 1,000 = one node hour = one wall hour on one node. This trainer runs
on one node, so the budget is wall time: budget_milli_node_hours * 3.6 seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SECONDS_PER_MILLI_NODE_HOUR = 3.6


class BudgetClock:
    """Wall time since start against the budget.

    reserve_seconds is kept back from training for export and evaluation, so the whole run fits the budget.
    """

    def __init__(
        self,
        budget_milli_node_hours: int,
        reserve_seconds: float = 0.0,
        max_train_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.budget_seconds = budget_milli_node_hours * SECONDS_PER_MILLI_NODE_HOUR
        self.budget_milli_node_hours = budget_milli_node_hours
        train_seconds = max(self.budget_seconds - reserve_seconds, 0.0)
        if max_train_seconds is not None:
            train_seconds = min(train_seconds, max_train_seconds)
        self.train_seconds = train_seconds
        self._clock = clock
        self._start = clock()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def train_time_left(self) -> float:
        return self.train_seconds - self.elapsed()

    def training_time_spent(self) -> bool:
        return self.train_time_left() <= 0

    def seconds_at(self, train_fraction: float) -> float:
        """Seconds from the start at which that fraction of the training time is used (a stage's end)."""
        return train_fraction * self.train_seconds

    def train_fraction(self) -> float:
        """0..1 of the training time used (drives the progress percentage)."""
        if self.train_seconds <= 0:
            return 1.0
        return min(max(self.elapsed() / self.train_seconds, 0.0), 1.0)

    def cost_milli_node_hours(self) -> int:
        """What the run cost so far, rounded up, never above the budget (AutoML bills at most the budget)."""
        return min(math.ceil(self.elapsed() / SECONDS_PER_MILLI_NODE_HOUR), self.budget_milli_node_hours)


@dataclass
class EarlyStopping:
    """Stops when the validation metric (higher is better) has not improved by more than min_delta for
    `patience` consecutive evaluations and, when patience_seconds > 0, for at least that much time. A tie
    with the best counts as best for the weights to keep (the later, longer-trained weights win) but does
    not reset the patience.

    The time floor is there because epochs differ 20-fold in length between datasets and model types: a
    patience in epochs alone gives a run of short epochs only minutes on a plateau it would climb off."""

    patience: int
    min_delta: float = 0.0
    patience_seconds: float = 0.0
    best: float = -math.inf
    best_step: int = -1
    _since_best: int = field(default=0, repr=False)
    _best_at: float = field(default=0.0, repr=False)
    _last_at: float = field(default=0.0, repr=False)

    def update(self, metric: float, step: int, at: float = 0.0) -> bool:
        """Record one evaluation made `at` seconds into the run; True when it is at least as good as the
        best (keep these weights)."""
        self._last_at = at
        if metric > self.best + self.min_delta or self.best_step < 0:
            self.best, self.best_step, self._since_best, self._best_at = metric, step, 0, at
            return True
        self._since_best += 1
        if metric >= self.best:
            self.best, self.best_step = metric, step
            return True
        return False

    @property
    def epochs_without_gain(self) -> int:
        return self._since_best

    @property
    def seconds_without_gain(self) -> float:
        return self._last_at - self._best_at

    @property
    def converged(self) -> bool:
        return self._since_best >= self.patience and self.seconds_without_gain >= self.patience_seconds
