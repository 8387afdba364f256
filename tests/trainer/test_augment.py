"""Augmentation keeps boxes on the objects they label."""

import numpy as np

from edgetrain_trainer.data.augment import Augmenter


def _image_with_white_square(box):
    image = np.zeros((64, 64, 3), np.uint8)
    ymin, xmin, ymax, xmax = (np.array(box) * 64).astype(int)
    image[ymin:ymax, xmin:xmax] = 255
    return image


def test_flip_mirrors_boxes():
    box = np.array([[0.25, 0.125, 0.5, 0.375]], np.float32)
    flip_only = Augmenter(flip=True, scale_range=(1.0, 1.0), color=0.0)
    seen = set()
    for seed in range(8):
        image, boxes, classes = flip_only(
            _image_with_white_square(box[0]), box, np.array([2]), np.random.default_rng(seed)
        )
        seen.add(round(float(boxes[0, 1]), 3))
        ymin, xmin, ymax, xmax = (boxes[0] * 64).round().astype(int)
        assert image[ymin:ymax, xmin:xmax].min() == 255  # the box still covers the white square
        assert classes.tolist() == [2]
    assert seen == {0.125, 0.625}  # both unflipped and flipped occur


def test_quarter_turns_move_boxes_with_the_object():
    box = np.array([[0.125, 0.25, 0.375, 0.75]], np.float32)  # wide, off-centre: every turn differs
    turn_only = Augmenter(flip=False, rotate=True, scale_range=(1.0, 1.0), color=0.0)
    seen = set()
    for seed in range(16):
        image, boxes, _ = turn_only(
            _image_with_white_square(box[0]), box, np.array([0]), np.random.default_rng(seed)
        )
        ymin, xmin, ymax, xmax = (boxes[0] * 64).round().astype(int)
        assert image[ymin:ymax, xmin:xmax].min() == 255  # the box covers the white rectangle ...
        assert image.sum() == 255 * 3 * (ymax - ymin) * (xmax - xmin)  # ... and nothing else is white
        seen.add(tuple(boxes[0].round(3)))
    assert len(seen) == 4  # all four orientations occur


def test_zoom_keeps_boxes_on_the_object_and_inside_the_image():
    box = np.array([[0.375, 0.375, 0.625, 0.625]], np.float32)
    zoom = Augmenter(flip=False, scale_range=(0.6, 1.4), color=0.0)
    for seed in range(20):
        image, boxes, _ = zoom(
            _image_with_white_square(box[0]), box, np.array([0]), np.random.default_rng(seed)
        )
        assert image.shape == (64, 64, 3)
        assert ((boxes >= 0) & (boxes <= 1)).all()
        for ymin, xmin, ymax, xmax in boxes:
            cy, cx = int((ymin + ymax) / 2 * 64), int((xmin + xmax) / 2 * 64)
            assert image[cy, cx].min() > 200  # the box centre is on the white square


def test_crop_drops_objects_mostly_cut_away():
    boxes = np.array([[0.0, 0.0, 0.1, 0.1], [0.4, 0.4, 0.6, 0.6]], np.float32)
    crop = Augmenter(flip=False, scale_range=(0.5, 0.5), color=0.0)
    kept = []
    for seed in range(20):
        _, out, classes = crop(
            np.zeros((64, 64, 3), np.uint8), boxes, np.array([0, 1]), np.random.default_rng(seed)
        )
        assert len(out) == len(classes)
        assert ((out >= 0) & (out <= 1)).all()
        assert (np.minimum(out[:, 2] - out[:, 0], out[:, 3] - out[:, 1]) >= 0.01).all()
        kept.append(classes.tolist())
    assert any(0 not in k for k in kept)  # the corner object is cut away by most crops
    assert any(1 in k for k in kept)
