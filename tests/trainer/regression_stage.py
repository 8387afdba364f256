"""A one-layer regression model fitting y = 3x, driven through loop.run_stage: the stage loop's tests
(moving average, cool-down, tail average) run on it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from edgetrain_trainer.training.budget import BudgetClock
from edgetrain_trainer.training.loop import (
    EpochReport,
    RateSchedule,
    Stage,
    StageOutcome,
    Stopping,
    make_optimizer,
    run_stage,
)
from edgetrain_trainer.training.schedule import BudgetCosine

_X = np.linspace(-1, 1, 4, dtype=np.float32)[:, None]


def _squared_error(class_targets, box_targets, box_pred, class_logits, num_positive):
    return {"total": tf.reduce_mean((box_pred - box_targets) ** 2)}


@dataclass
class RegressionStage:
    model: keras.Model
    optimizer: keras.optimizers.Optimizer  # for driving epochs by hand (train_epoch)
    schedule: BudgetCosine
    stage: Stage
    steps_per_epoch: int
    raw_after_epoch: list[list[np.ndarray]] = field(default_factory=list)  # weights after each epoch

    def batches(self) -> Iterator[tuple[tf.Tensor, np.ndarray, tf.Tensor]]:
        """One epoch of the same batch; records the raw weights once the epoch's last step is done."""
        for _ in range(self.steps_per_epoch):
            yield tf.constant(_X), np.zeros((4, 1), np.int32), tf.constant(3.0 * _X)
        self.raw_after_epoch.append(self.model.get_weights())

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch with self.optimizer, outside the loop."""
        for x, _, y in self.batches():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((self.model(x)[0] - y) ** 2)
            grads = tape.gradient(loss, self.model.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        return {"total": float(loss)}

    def run(
        self,
        evaluate: Callable[[], tuple[float, float]],
        report: Callable[[EpochReport], None] = lambda r: None,
        clock: BudgetClock | None = None,
        **changes,
    ) -> StageOutcome:
        """run_stage on this model's epochs; `changes` replace fields of the stage (stopping=..., ...)."""
        stage = dataclasses.replace(self.stage, evaluate=evaluate, **changes)
        return run_stage(stage, clock or BudgetClock(1000), report, lambda: False)


def regression_stage(ema_epochs: float, max_epochs: int = 3, steps_per_epoch: int = 4) -> RegressionStage:
    """The model, a stage over `max_epochs` epochs, and an optimizer made as run_stage makes it; seeded."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((1,))
    prediction = keras.layers.Dense(1)(inputs)
    model = keras.Model(inputs, [prediction, prediction])  # (box_pred, class_logits), as a detector's
    rates = RateSchedule(learning_rate=0.1, weight_decay=0.0, grad_clip_norm=10.0, ema_epochs=ema_epochs)
    optimizer, schedule = make_optimizer(rates, steps_per_epoch, max_epochs)
    holder = RegressionStage(model, optimizer, schedule, None, steps_per_epoch)  # type: ignore[arg-type]
    holder.stage = Stage(
        name="head",
        model=model,
        loss=_squared_error,
        batches=holder.batches,
        evaluate=lambda: (0.0, 0.0),
        steps_per_epoch=steps_per_epoch,
        max_epochs=max_epochs,
        rates=rates,
        stopping=Stopping(patience=5),
    )
    return holder
