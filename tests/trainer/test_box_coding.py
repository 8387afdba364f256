"""Box encoding and anchor matching against hand-computed values."""

import numpy as np

from edgetrain_trainer.model.box_coding import (
    BACKGROUND_CLASS,
    IGNORE_CLASS,
    AnchorMatcher,
    BoxCoder,
    iou_matrix,
)


def test_encode_hand_computed_offsets():
    anchor = np.array([[0.5, 0.5, 0.2, 0.2]], np.float32)  # center-size
    box = np.array([[0.45, 0.4, 0.65, 0.6]], np.float32)  # center (0.55, 0.5), size 0.2 x 0.2
    np.testing.assert_allclose(BoxCoder().encode(box, anchor), [[2.5, 0.0, 0.0, 0.0]], atol=1e-5)
    wide = np.array([[0.4, 0.3, 0.6, 0.7]], np.float32)  # width 0.4 = 2x the anchor's
    np.testing.assert_allclose(BoxCoder().encode(wide, anchor), [[0.0, 0.0, 0.0, 5 * np.log(2)]], atol=1e-5)


def test_decode_inverts_encode():
    rng = np.random.default_rng(0)
    anchors = np.column_stack([rng.uniform(0.2, 0.8, (50, 2)), rng.uniform(0.05, 0.4, (50, 2))]).astype(
        np.float32
    )
    ymin, xmin = rng.uniform(0, 0.5, 50), rng.uniform(0, 0.5, 50)
    boxes = np.column_stack(
        [ymin, xmin, ymin + rng.uniform(0.02, 0.5, 50), xmin + rng.uniform(0.02, 0.5, 50)]
    )
    coder = BoxCoder()
    np.testing.assert_allclose(coder.decode(coder.encode(boxes, anchors), anchors), boxes, atol=1e-5)


def test_iou_hand_computed():
    a = np.array([[0.0, 0.0, 0.5, 0.5]])
    b = np.array([[0.25, 0.25, 0.75, 0.75], [0.6, 0.6, 0.9, 0.9]])
    # intersection 0.0625, union 0.25 + 0.25 - 0.0625
    np.testing.assert_allclose(iou_matrix(a, b), [[0.0625 / 0.4375, 0.0]])


def test_matcher_assigns_positive_ignored_background_and_forces_best_anchor():
    anchors = np.array(
        [
            [0.25, 0.25, 0.5, 0.5],  # IoU 1.0 with object 0 → positive
            [0.25, 0.35, 0.5, 0.5],  # IoU 0.6667 → positive
            [0.25, 0.45, 0.5, 0.5],  # IoU 0.4286 → ignored
            [0.75, 0.75, 0.5, 0.5],  # no overlap → background
            [0.8, 0.2, 0.2, 0.2],  # best anchor of the small object 1 (IoU 0.25 < 0.4) → forced positive
        ],
        np.float32,
    )
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.75, 0.15, 0.85, 0.25]], np.float32)
    classes, box_targets = AnchorMatcher(anchors).match(boxes, np.array([3, 1]))
    assert classes.tolist() == [3, 3, IGNORE_CLASS, BACKGROUND_CLASS, 1]
    np.testing.assert_allclose(box_targets[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(box_targets[3], 0.0)
    np.testing.assert_allclose(BoxCoder().decode(box_targets[4:5], anchors[4:5]), boxes[1:2], atol=1e-5)


def test_image_without_boxes_is_all_background():
    anchors = np.array([[0.5, 0.5, 0.2, 0.2]], np.float32)
    classes, targets = AnchorMatcher(anchors).match(np.zeros((0, 4), np.float32), np.zeros(0, np.int32))
    assert classes.tolist() == [BACKGROUND_CLASS]
    assert not targets.any()
