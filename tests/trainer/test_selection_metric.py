"""Which validation figure picks the weights a stage keeps: `selection_metric` (Stopping.metric)."""

import numpy as np
import pytest

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.errors import InvalidArgumentError
from edgetrain_trainer.training.loop import Stopping
from tests.trainer.regression_stage import regression_stage

# (mAP@0.5, mAP@[.5:.95]) per epoch: epoch 2 finds the most objects, epoch 3 fits the boxes best
_EPOCHS = [(0.80, 0.50), (0.92, 0.55), (0.90, 0.60)]


def _kept_epoch(metric: str) -> tuple[int, float]:
    stage = regression_stage(ema_epochs=0.0)
    figures, seen = iter(_EPOCHS), []

    def evaluate():
        seen.append(stage.model.get_weights())
        return next(figures)

    outcome = stage.run(evaluate, stopping=Stopping(patience=5, metric=metric))
    kept = stage.model.get_weights()
    epoch = next(i for i, weights in enumerate(seen, 1) if np.array_equal(weights[0], kept[0]))
    return epoch, outcome.best_score


def test_map50_95_keeps_the_epoch_with_the_tightest_boxes():
    assert _kept_epoch("map50_95") == (3, 0.60)


def test_map50_keeps_the_epoch_that_finds_the_most_objects():
    assert _kept_epoch("map50") == (2, 0.92)


def test_the_default_selects_on_map50_95_and_an_unknown_metric_is_refused():
    assert TrainerConfig().selection_metric == "map50_95"
    with pytest.raises(
        InvalidArgumentError, match="selection_metric: Input should be 'map50' or 'map50_95', got 'f1'"
    ):
        TrainerConfig.from_overrides({"selection_metric": "f1"})
