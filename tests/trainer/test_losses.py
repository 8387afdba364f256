"""Detection loss: what counts and what is ignored."""

import numpy as np
import pytest

from edgetrain_trainer.model.box_coding import BACKGROUND_CLASS, IGNORE_CLASS
from edgetrain_trainer.model.losses import DetectionLoss


def _loss(class_targets, logits, box_targets=None, box_pred=None):
    n = len(class_targets)
    box_targets = np.zeros((1, n, 4), np.float32) if box_targets is None else box_targets
    box_pred = np.zeros((1, n, 4), np.float32) if box_pred is None else box_pred
    loss = DetectionLoss(num_classes=2)(
        np.array([class_targets]), box_targets, box_pred, np.array([logits], np.float32)
    )
    return {k: float(v) for k, v in loss.items()}


def test_confident_correct_predictions_cost_almost_nothing():
    loss = _loss([1, BACKGROUND_CLASS], [[-12.0, 12.0], [-12.0, -12.0]])
    assert loss["total"] < 1e-4


def test_ignored_anchors_contribute_no_loss():
    base = _loss([1, BACKGROUND_CLASS], [[-12.0, 12.0], [-12.0, -12.0]])
    with_ignored_wrong = _loss(
        [1, BACKGROUND_CLASS, IGNORE_CLASS], [[-12.0, 12.0], [-12.0, -12.0], [12.0, 12.0]]
    )
    assert with_ignored_wrong["class"] == pytest.approx(base["class"], abs=1e-6)


def test_box_loss_only_on_positive_anchors():
    box_pred = np.array([[[1.0, 0, 0, 0], [5.0, 5.0, 5.0, 5.0]]], np.float32)  # second anchor is background
    loss = _loss([0, BACKGROUND_CLASS], [[12.0, -12.0], [-12.0, -12.0]], box_pred=box_pred)
    assert loss["box"] == pytest.approx(0.5)  # Huber(1.0) = 0.5, one positive anchor


def test_wrong_class_costs_more_than_right_class():
    right = _loss([0], [[3.0, -3.0]])
    wrong = _loss([0], [[-3.0, 3.0]])
    assert wrong["class"] > 10 * right["class"]
