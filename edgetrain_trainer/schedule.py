"""Learning-rate schedule whose length follows the budget: linear warm-up, then cosine decay to
`alpha * peak` at `total_steps`, where total_steps is re-planned after every epoch from the time left
(a budget-bound run decays fully instead of being cut off at a high learning rate)."""

from __future__ import annotations

import math

import keras
import tensorflow as tf


class BudgetCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak: float, warmup_steps: int, total_steps: int, alpha: float = 0.05):
        self.peak, self.alpha = float(peak), float(alpha)
        self.warmup_steps = float(max(warmup_steps, 1))
        self.total_steps = tf.Variable(float(max(total_steps, warmup_steps + 1)), trainable=False)

    def replan(self, total_steps: int) -> None:
        self.total_steps.assign(float(max(total_steps, self.warmup_steps + 1)))

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1.0) / self.warmup_steps
        progress = tf.clip_by_value(
            (step - self.warmup_steps) / (self.total_steps - self.warmup_steps), 0.0, 1.0
        )
        cosine = self.peak * (self.alpha + (1 - self.alpha) * 0.5 * (1 + tf.cos(math.pi * progress)))
        return tf.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return {
            "peak": self.peak,
            "warmup_steps": int(self.warmup_steps),
            "total_steps": 0,
            "alpha": self.alpha,
        }


def planned_epochs(epoch: int, max_epochs: int, seconds_left: float, last_epoch_seconds: float) -> int:
    """Epochs the stage can still complete: this one plus what fits in the time left, at most max_epochs."""
    if last_epoch_seconds <= 0:
        return max_epochs
    return max(epoch, min(max_epochs, epoch + int(seconds_left // last_epoch_seconds)))
