"""Diagnostics: the confusion table at IoU 0.5 and the worst/best sample images, on hand-built cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from edgetrain_trainer.data.dataset import Example
from edgetrain_trainer.data.rows import Box
from edgetrain_trainer.diagnostics import SAMPLE_MAX_SIDE, diagnose, write_diagnostics

LABELS = ["cat", "dog"]


def example(path: Path, *boxes: tuple, size=(100, 100)) -> Example:
    """boxes: (class_id, xmin, ymin, xmax, ymax) normalized."""
    return Example(
        image_path=path,
        image_ref=path.name,
        split="TEST",
        ml_use="TEST",
        boxes=tuple(Box(LABELS[c], x0, y0, x1, y1, c) for c, x0, y0, x1, y1 in boxes),
        width=size[0],
        height=size[1],
    )


def found(*detections: tuple):
    """detections: (class_id, score, xmin, ymin, xmax, ymax) → (boxes yxyx, classes, scores)."""
    boxes = np.array([[y0, x0, y1, x1] for _, _, x0, y0, x1, y1 in detections]).reshape(-1, 4)
    return boxes, np.array([d[0] for d in detections], float), np.array([d[1] for d in detections])


def test_the_confusion_table_counts_right_wrong_missed_and_extra_boxes():
    cat, dog = (0, 0.1, 0.1, 0.4, 0.4), (1, 0.5, 0.5, 0.9, 0.9)
    examples = [example(Path("a.jpg"), cat, dog), example(Path("b.jpg"), cat)]
    predictions = [
        # the cat found as a dog; the dog found, plus a duplicate below the score threshold
        found((1, 0.9, 0.1, 0.1, 0.4, 0.4), (1, 0.8, 0.5, 0.5, 0.9, 0.9), (1, 0.3, 0.5, 0.5, 0.9, 0.9)),
        # the cat missed (the box overlaps too little), and that box is an extra detection
        found((0, 0.7, 0.3, 0.3, 0.6, 0.6)),
    ]

    confusion, scores = diagnose(examples, LABELS, predictions)

    # rows: true cat, dog, background; columns: predicted cat, dog, background
    assert confusion == [[0, 1, 1], [0, 1, 0], [1, 0, 0]]
    assert scores == [1 / 3, 0.0]


def test_samples_are_the_worst_and_best_images_scaled_with_their_boxes(tmp_path):
    examples, predictions = [], []
    for i in range(8):
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", (960, 640), (i * 20, 0, 0)).save(path)
        examples.append(example(path, (0, 0.1, 0.1, 0.5, 0.5), size=(960, 640)))
        hit = i >= 4  # images 4–7 found, 0–3 missed
        predictions.append(found((0, 0.9, 0.1, 0.1, 0.5, 0.5)) if hit else found())

    written = write_diagnostics(tmp_path / "out", examples, LABELS, predictions)

    assert written == json.loads((tmp_path / "out" / "diagnostics.json").read_text())
    kinds = [(s["kind"], s["image"], s["score"]) for s in written["samples"]]
    assert kinds == [
        ("worst", "img0.png", 0.0),
        ("worst", "img1.png", 0.0),
        ("worst", "img2.png", 0.0),
        ("best", "img7.png", 1.0),
        ("best", "img6.png", 1.0),
        ("best", "img5.png", 1.0),
    ]
    best = written["samples"][3]
    assert best["truth"] == [{"label": "cat", "box": [0.1, 0.1, 0.5, 0.5]}]
    assert best["predicted"] == [{"label": "cat", "score": 0.9, "box": [0.1, 0.1, 0.5, 0.5]}]
    with Image.open(tmp_path / "out" / best["file"]) as picture:
        assert picture.format == "JPEG" and picture.size == (SAMPLE_MAX_SIDE, 320)
    assert (best["width"], best["height"]) == (SAMPLE_MAX_SIDE, 320)
