"""GIoU box loss: GIoU on hand-computed boxes, decoding as the export does, and a training signal."""

import numpy as np
import pytest
import tensorflow as tf

from edgetrain_trainer.model.box_coding import BACKGROUND_CLASS, BoxCoder
from edgetrain_trainer.model.iou_losses import decode_tf, iou_and_giou
from edgetrain_trainer.model.losses import DetectionLoss

ANCHORS = np.array([[0.5, 0.5, 0.2, 0.2], [0.3, 0.3, 0.1, 0.2], [0.7, 0.7, 0.3, 0.3]], np.float32)


@pytest.mark.parametrize(
    "a, b, iou, giou",
    [
        ([0, 0, 2, 2], [0, 0, 2, 2], 1.0, 1.0),
        # overlap 1, union 7, hull 9: GIoU = 1/7 - (9 - 7)/9
        ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7, 1 / 7 - 2 / 9),
        # apart: IoU 0, union 2, hull 1 x 3 = 3: GIoU = -(3 - 2)/3
        ([0, 0, 1, 1], [0, 2, 1, 3], 0.0, -1 / 3),
        # one inside the other: IoU = 1/4, hull = the outer box
        ([0, 0, 2, 2], [0.5, 0.5, 1.5, 1.5], 0.25, 0.25),
    ],
)
def test_iou_and_giou_match_hand_computed_values(a, b, iou, giou):
    got_iou, got_giou = iou_and_giou(np.array([a], np.float32), np.array([b], np.float32))
    assert float(got_iou[0]) == pytest.approx(iou, abs=1e-6)
    assert float(got_giou[0]) == pytest.approx(giou, abs=1e-6)


def test_giou_has_a_gradient_for_boxes_that_do_not_overlap():
    a = tf.Variable([[0.0, 0.0, 1.0, 1.0]])
    with tf.GradientTape() as tape:
        _, giou = iou_and_giou(a, tf.constant([[0.0, 2.0, 1.0, 3.0]]))
    grad = tape.gradient(giou, a).numpy()
    assert grad[0, 3] > 0  # moving the right edge towards the other box raises GIoU


def test_decode_tf_matches_the_export_decoding():
    coder = BoxCoder()
    boxes = np.array([[0.35, 0.4, 0.62, 0.58], [0.2, 0.1, 0.4, 0.5], [0.5, 0.6, 0.95, 0.9]], np.float32)
    encodings = coder.encode(boxes, ANCHORS)
    np.testing.assert_allclose(decode_tf(encodings, ANCHORS).numpy(), boxes, atol=1e-6)
    np.testing.assert_allclose(
        decode_tf(encodings, ANCHORS).numpy(), coder.decode(encodings, ANCHORS), atol=1e-6
    )


def _targets():
    boxes = np.array([[0.35, 0.4, 0.62, 0.58], [0.2, 0.1, 0.4, 0.5], [0, 0, 0, 0]], np.float32)
    box_targets = BoxCoder().encode(boxes, ANCHORS)
    box_targets[2] = 0
    return np.array([[1, 0, BACKGROUND_CLASS]]), box_targets[None]


def test_giou_box_loss_is_zero_on_exact_boxes_and_counts_positives_only():
    class_targets, box_targets = _targets()
    loss = DetectionLoss(num_classes=2, box_loss="giou", anchors=ANCHORS)
    logits = np.zeros((1, 3, 2), np.float32)
    exact = box_targets.copy()
    exact[0, 2] = 7.0  # a wild prediction on the background anchor costs no box loss
    assert float(loss(class_targets, box_targets, exact, logits)["box"]) == pytest.approx(0, abs=1e-5)
    at_anchors = float(loss(class_targets, box_targets, np.zeros_like(box_targets), logits)["box"])
    assert at_anchors > 0.1


@pytest.mark.parametrize("box_loss", ["giou", "huber+giou"])
def test_loss_decreases_when_training_predictions_on_a_toy_batch(box_loss):
    class_targets, box_targets = _targets()
    loss = DetectionLoss(num_classes=2, box_loss=box_loss, anchors=ANCHORS)
    box_pred = tf.Variable(np.zeros((1, 3, 4), np.float32))
    logits = tf.Variable(np.zeros((1, 3, 2), np.float32))
    optimizer = tf.keras.optimizers.Adam(0.05)
    losses = []
    for _ in range(60):
        with tf.GradientTape() as tape:
            total = loss(class_targets, box_targets, box_pred, logits)["total"]
        grads = tape.gradient(total, [box_pred, logits])
        optimizer.apply_gradients(zip(grads, [box_pred, logits], strict=True))
        losses.append(float(total))
    assert losses[-1] < 0.3 * losses[0]
    assert np.isfinite(losses).all()


def test_iou_losses_without_anchors_are_refused():
    with pytest.raises(ValueError, match="needs the anchors"):
        DetectionLoss(num_classes=2, box_loss="giou")
    with pytest.raises(ValueError, match="box_loss must be one of"):
        DetectionLoss(num_classes=2, box_loss="iou", anchors=ANCHORS)
