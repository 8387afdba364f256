"""Averages of a stage's weights: the optimizer's moving average (AveragedWeights swaps it in for
validation) and the tail average (stochastic weight averaging, Izmailov et al. 2018).

On a validation plateau the per-epoch weights differ by noise that a small validation set cannot tell
apart. A uniform average of the weights of the low-learning-rate epochs lands inside that basin instead of
on one noisy point of it. loop.run_stage feeds it and decides whether to keep it.
"""

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
        if self.optimizer.use_ema and self.optimizer.built:
            self._training = self.model.get_weights()
            self.optimizer.finalize_variable_values(self.model.trainable_variables)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._training is not None:
            self.model.set_weights(self._training)
            self._training = None


class TailAverage:
    """Uniform running mean of weight lists (as keras.Model.get_weights() returns them) and of the
    validation scores they had. Sums are float64, so a long tail loses no precision."""

    def __init__(self) -> None:
        self.count = 0
        self._sums: list[np.ndarray] | None = None
        self._dtypes: list[np.dtype] = []
        self._metric_sum = 0.0

    def add(self, weights: list[np.ndarray], metric: float) -> None:
        if self._sums is None:
            self._sums = [np.array(w, dtype=np.float64) for w in weights]
            self._dtypes = [np.asarray(w).dtype for w in weights]
        else:
            if len(weights) != len(self._sums):
                raise ValueError(f"expected {len(self._sums)} weight arrays, got {len(weights)}")
            for total, w in zip(self._sums, weights, strict=True):
                total += w
        self.count += 1
        self._metric_sum += metric

    def weights(self) -> list[np.ndarray]:
        if self._sums is None:
            raise ValueError("no weights averaged yet")
        return [(s / self.count).astype(d) for s, d in zip(self._sums, self._dtypes, strict=True)]

    @property
    def mean_metric(self) -> float:
        """Mean validation score of the averaged epochs: what a pick among them scores on average."""
        return self._metric_sum / self.count if self.count else float("nan")
