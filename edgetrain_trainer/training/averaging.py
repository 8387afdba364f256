"""Tail average of a stage's weights (stochastic weight averaging, Izmailov et al. 2018).

On a validation plateau the per-epoch weights differ by noise: on cards, the second-half epochs of one
high-accuracy training scored 0.975 ± 0.003 TEST mAP@0.5, and validation on 30 images could not tell them
apart (docs/trainer_design.md, weight selection study). A uniform average of the weights of the
low-learning-rate epochs lands inside that basin instead of on one noisy point of it. fit.run_stage feeds
it and decides whether to keep it.
"""

from __future__ import annotations

import numpy as np


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
