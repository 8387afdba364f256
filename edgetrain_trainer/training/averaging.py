"""The optimizer's moving average of a stage's weights: its momentum, and AveragedWeights, which swaps it
into the model for validation."""

from __future__ import annotations

import keras
import numpy as np


def ema_momentum(ema_epochs: float, steps_per_epoch: int) -> float:
    """Momentum whose averaging horizon, 1 / (1 - momentum) steps, spans ema_epochs epochs."""
    if ema_epochs <= 0:
        return 0.99  # unused: Keras checks the value even when the average is off
    return min(1.0 - 1.0 / max(ema_epochs * steps_per_epoch, 1.0), 0.9999)


class AveragedWeights:
    """Swaps the optimizer's moving average of the weights into `model` for an evaluation and back out.

    with AveragedWeights(model, optimizer): ...   # model holds the averaged weights inside the block
    A no-op for an optimizer without use_ema."""

    def __init__(self, model: keras.Model, optimizer: keras.optimizers.Optimizer):
        self.model, self.optimizer = model, optimizer
        self._training: list[np.ndarray] | None = None

    def __enter__(self) -> AveragedWeights:
        # Before the first step the optimizer has no average yet; the weights are what there is.
        if self.optimizer.use_ema and self.optimizer.built and int(self.optimizer.iterations.numpy()) > 0:
            self._training = self.model.get_weights()
            self.optimizer.finalize_variable_values(self.model.trainable_variables)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._training is not None:
            self.model.set_weights(self._training)
            self._training = None
