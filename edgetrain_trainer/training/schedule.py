"""Learning-rate schedule whose length follows the budget: linear warm-up, then cosine decay to
`alpha * peak` at `total_steps`, where total_steps is re-planned after every epoch from the time left
(a budget-bound run decays fully instead of being cut off at a high learning rate).

cool_down() ends the decay early: from the current step and rate, the cosine reaches the floor within a
given number of steps, and later re-plans can only shorten it. The fine-tuning stage uses it when
validation mAP stops improving, because a plateau at a high learning rate is not where the weights
settle (see fit.run_stage)."""

from __future__ import annotations

import math

import keras
import tensorflow as tf


class BudgetCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak: float, warmup_steps: int, total_steps: int, alpha: float = 0.05):
        self.peak, self.alpha = float(peak), float(alpha)
        self.warmup_steps = float(max(warmup_steps, 1))
        self.total_steps = tf.Variable(float(max(total_steps, warmup_steps + 1)), trainable=False)
        # the cosine runs from (decay_start, decay_peak) to (total_steps, alpha * peak)
        self.decay_start = tf.Variable(self.warmup_steps, trainable=False)
        self.decay_peak = tf.Variable(self.peak, trainable=False)
        self.last_step = tf.Variable(math.inf, trainable=False)  # cool_down's end: re-plans stay within it

    def replan(self, total_steps: int) -> None:
        total = min(float(total_steps), float(self.last_step.numpy()))
        self.total_steps.assign(max(total, float(self.decay_start.numpy()) + 1.0))

    def cool_down(self, step: int, steps: int) -> None:
        """From `step` on, decay from the rate at `step` to the floor within `steps` steps."""
        rate = float(self(step))
        self.decay_start.assign(float(step))
        self.decay_peak.assign(rate)
        self.last_step.assign(float(step + max(steps, 1)))
        self.total_steps.assign(float(step + max(steps, 1)))

    @property
    def cooling(self) -> bool:
        return math.isfinite(float(self.last_step.numpy()))

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1.0) / self.warmup_steps
        progress = tf.clip_by_value(
            (step - self.decay_start) / (self.total_steps - self.decay_start), 0.0, 1.0
        )
        floor = self.alpha * self.peak
        cosine = floor + (self.decay_peak - floor) * 0.5 * (1 + tf.cos(math.pi * progress))
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
