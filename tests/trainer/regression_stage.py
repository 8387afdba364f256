"""A one-layer regression model fitting y = 3x, driven through fit.run_stage: the stage loop's tests
(moving average, cool-down, tail average) run on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from edgetrain_trainer.training.budget import BudgetClock, EarlyStopping
from edgetrain_trainer.training.loop import StageOutcome, StageSettings, make_optimizer, run_stage
from edgetrain_trainer.training.schedule import BudgetCosine


@dataclass
class RegressionStage:
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    schedule: BudgetCosine
    settings: StageSettings
    steps_per_epoch: int
    raw_after_epoch: list[list[np.ndarray]] = field(default_factory=list)  # weights after each epoch

    def train_epoch(self, epoch: int) -> dict[str, float]:
        x = tf.constant(np.linspace(-1, 1, 4, dtype=np.float32)[:, None])
        for _ in range(self.steps_per_epoch):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((self.model(x) - 3.0 * x) ** 2)
            grads = tape.gradient(loss, self.model.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        self.raw_after_epoch.append(self.model.get_weights())
        return {"total": float(loss)}

    def run(
        self,
        evaluate: Callable[[], tuple[float, float]],
        stopper: EarlyStopping,
        report: Callable = lambda *args: None,
        settings: StageSettings | None = None,
        clock: BudgetClock | None = None,
        keep_above: float = -1.0,
    ) -> StageOutcome:
        """run_stage with this model's epochs; settings default to the ones the optimizer was made for."""
        return run_stage(
            settings or self.settings,
            self.train_epoch,
            evaluate,
            self.model,
            clock or BudgetClock(1000),
            stopper,
            report,
            self.optimizer,
            self.schedule,
            self.steps_per_epoch,
            keep_above=keep_above,
        )


def regression_stage(ema_epochs: float, max_epochs: int = 3, steps_per_epoch: int = 4) -> RegressionStage:
    """The model, a head-stage optimizer over `max_epochs` epochs and its schedule, seeded."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    settings = StageSettings("head", max_epochs, 4, 0.1, 1.0)
    optimizer, schedule = make_optimizer(settings, steps_per_epoch, 0.0, 10.0, ema_epochs)
    return RegressionStage(model, optimizer, schedule, settings, steps_per_epoch)
