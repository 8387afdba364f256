"""Evaluation: AutoML-shaped metrics from COCOeval — perfect, empty, hand-computed and structural cases."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from edgetrain_trainer.data.dataset import Example
from edgetrain_trainer.data.rows import Box
from edgetrain_trainer.evaluation import (
    CONFIDENCE_THRESHOLDS,
    IOU_THRESHOLDS,
    Evaluation,
    evaluate,
)

LABELS = ["cat", "dog"]


def example(name: str, *boxes: tuple, size=(100, 100)) -> Example:
    """boxes: (class_id, xmin, ymin, xmax, ymax) normalized."""
    return Example(
        image_path=Path(name),
        image_ref=name,
        split="TEST",
        ml_use="TEST",
        boxes=tuple(Box(LABELS[c], x0, y0, x1, y1, c) for c, x0, y0, x1, y1 in boxes),
        width=size[0],
        height=size[1],
    )


def truth_as_predictions(examples, score=0.9):
    return [(e.boxes_yxyx(), e.class_ids(), np.full(len(e.boxes), score)) for e in examples]


def no_predictions(examples):
    return [(np.zeros((0, 4)), np.zeros(0), np.zeros(0)) for _ in examples]


EXAMPLES = [
    example("a.jpg", (0, 0.1, 0.1, 0.4, 0.5), (1, 0.5, 0.5, 0.9, 0.8)),
    example("b.jpg", (0, 0.2, 0.3, 0.6, 0.9), size=(640, 480)),
]


def aps(metrics: dict) -> list[float]:
    return [entry["meanAveragePrecision"] for entry in metrics["boundingBoxMetricsEntries"]]


def test_threshold_lists_are_automl_s():
    expected = [0.05 * i for i in range(1, 20)] + [0.96, 0.97, 0.98, 0.99]
    assert IOU_THRESHOLDS == pytest.approx(expected)
    assert CONFIDENCE_THRESHOLDS == IOU_THRESHOLDS
    assert len(IOU_THRESHOLDS) == 23


def test_perfect_predictions_score_one_everywhere():
    evaluation = evaluate(EXAMPLES, LABELS, truth_as_predictions(EXAMPLES))

    assert evaluation.map50 == pytest.approx(1.0)
    assert evaluation.map50_95 == pytest.approx(1.0)
    assert aps(evaluation.metrics) == [1.0] * 23
    assert evaluation.metrics["boundingBoxMeanAveragePrecision"] == 1.0
    for label in evaluation.per_label:
        assert aps(label["imageObjectDetectionEvaluationMetrics"]) == [1.0] * 23
    confidence = evaluation.metrics["boundingBoxMetricsEntries"][0]["confidenceMetricsEntries"]
    below, above = confidence[0], confidence[-1]  # thresholds 0.05 and 0.99; every score is 0.9
    assert (below["precision"], below["recall"], below["f1Score"]) == (1.0, 1.0, 1.0)
    assert (above["precision"], above["recall"], above["f1Score"]) == (1.0, 0.0, 0.0)


def test_no_predictions_score_zero():
    evaluation = evaluate(EXAMPLES, LABELS, no_predictions(EXAMPLES))
    assert (evaluation.map50, evaluation.map50_95) == (0.0, 0.0)
    assert aps(evaluation.metrics) == [0.0] * 23
    assert evaluation.metrics["boundingBoxMeanAveragePrecision"] == 0.0
    entry = evaluation.metrics["boundingBoxMetricsEntries"][9]["confidenceMetricsEntries"][0]
    assert (entry["recall"], entry["f1Score"]) == (0.0, 0.0)


def test_hand_computed_precision_recall_and_ap():
    # one image, two cats; predictions: a perfect box (0.9), a box on nothing (0.8); the second cat is missed
    examples = [example("a.jpg", (0, 0.1, 0.1, 0.3, 0.3), (0, 0.6, 0.6, 0.9, 0.9))]
    boxes = [[0.1, 0.1, 0.3, 0.3], [0.0, 0.5, 0.2, 0.7]]  # ymin, xmin, ymax, xmax
    evaluation = evaluate(examples, ["cat"], [(boxes, [0, 0], [0.9, 0.8])])

    # 101-point interpolated AP: precision 1 up to recall 0.5 (51 points: 0.00 … 0.50), then 0
    assert evaluation.map50 == pytest.approx(51 / 101, abs=1e-6)
    assert evaluation.metrics["evaluatedBoundingBoxCount"] == 2
    entries = {
        e["confidenceThreshold"]: e
        for e in evaluation.metrics["boundingBoxMetricsEntries"][9]["confidenceMetricsEntries"]
    }
    assert entries[0.5] == {"confidenceThreshold": 0.5, "recall": 0.5, "precision": 0.5, "f1Score": 0.5}
    assert entries[0.85] == pytest.approx(
        {"confidenceThreshold": 0.85, "recall": 0.5, "precision": 1.0, "f1Score": 0.666667}
    )
    assert entries[0.95] == {"confidenceThreshold": 0.95, "recall": 0.0, "precision": 1.0, "f1Score": 0.0}


def test_ap_drops_to_zero_above_the_prediction_s_iou():
    # ground truth 40 px wide, prediction 25 px inside it, same height: IoU = 25 / 40 = 0.625
    examples = [example("a.jpg", (0, 0.1, 0.1, 0.5, 0.5))]
    evaluation = evaluate(examples, ["cat"], [([[0.1, 0.1, 0.5, 0.35]], [0], [0.7])])
    expected = [1.0 if iou <= 0.625 else 0.0 for iou in IOU_THRESHOLDS]
    assert aps(evaluation.metrics) == expected
    assert evaluation.metrics["boundingBoxMeanAveragePrecision"] == pytest.approx(np.mean(expected), abs=1e-6)
    assert evaluation.map50 == pytest.approx(1.0)
    assert evaluation.map50_95 == pytest.approx(3 / 10)  # 0.50, 0.55, 0.60 of the ten COCO thresholds


def test_per_label_structure_and_a_label_without_ground_truth():
    examples = [example("a.jpg", (0, 0.1, 0.1, 0.4, 0.5)), example("b.jpg", (0, 0.5, 0.5, 0.9, 0.9))]
    predictions = truth_as_predictions(examples)
    predictions[1] = (
        np.vstack([predictions[1][0], [[0.0, 0.0, 0.2, 0.2]]]),
        [0, 1],
        [0.9, 0.6],
    )  # a dog where there is none
    evaluation = evaluate(examples, LABELS, predictions)

    cat, dog = evaluation.per_label
    assert (cat["annotationSpecId"], cat["displayName"], cat["evaluatedExampleCount"]) == ("0", "cat", 2)
    assert (dog["annotationSpecId"], dog["displayName"], dog["evaluatedExampleCount"]) == ("1", "dog", 0)
    assert cat["imageObjectDetectionEvaluationMetrics"]["evaluatedBoundingBoxCount"] == 2
    assert dog["imageObjectDetectionEvaluationMetrics"]["evaluatedBoundingBoxCount"] == 0
    assert aps(dog["imageObjectDetectionEvaluationMetrics"]) == [0.0] * 23
    # the overall mean covers the labels with ground truth (as COCO), so the stray dog costs precision only
    assert evaluation.map50 == pytest.approx(1.0)
    dog_conf = dog["imageObjectDetectionEvaluationMetrics"]["boundingBoxMetricsEntries"][0]
    assert dog_conf["confidenceMetricsEntries"][0]["precision"] == 0.0
    overall_conf = evaluation.metrics["boundingBoxMetricsEntries"][0]["confidenceMetricsEntries"]
    assert overall_conf[0]["precision"] == pytest.approx(2 / 3, abs=1e-6)
    for metrics in [evaluation.metrics] + [
        p["imageObjectDetectionEvaluationMetrics"] for p in evaluation.per_label
    ]:
        entries = metrics["boundingBoxMetricsEntries"]
        assert [e["iouThreshold"] for e in entries] == list(IOU_THRESHOLDS)
        for entry in entries:
            thresholds = [c["confidenceThreshold"] for c in entry["confidenceMetricsEntries"]]
            assert thresholds == list(CONFIDENCE_THRESHOLDS)
            assert set(entry["confidenceMetricsEntries"][0]) == {
                "confidenceThreshold",
                "recall",
                "precision",
                "f1Score",
            }
    assert evaluation.evaluated_example_count == 2


def noisy_case(seed: int, images: int, false_positives: int = 0):
    """Random boxes on 320 x 240 images, detected with jitter and random scores, plus up to
    `false_positives` random detections per image."""
    rng = np.random.default_rng(seed)
    examples, predictions = [], []
    for i in range(images):
        boxes = []
        for _ in range(rng.integers(1, 5)):
            x0, y0 = rng.uniform(0, 0.6, 2)
            boxes.append(
                (int(rng.integers(0, 2)), x0, y0, x0 + rng.uniform(0.1, 0.4), y0 + rng.uniform(0.1, 0.4))
            )
        ex = example(f"{i}.jpg", *boxes, size=(320, 240))
        jitter = rng.normal(0, 0.02, (len(boxes), 4))
        found = (np.clip(ex.boxes_yxyx() + jitter, 0, 1), ex.class_ids(), rng.uniform(0.1, 1, len(boxes)))
        extra = int(rng.integers(0, false_positives + 1))
        if extra:
            y0x0 = rng.uniform(0, 0.6, (extra, 2))
            wrong = np.clip(np.hstack([y0x0, y0x0 + rng.uniform(0.05, 0.4, (extra, 2))]), 0, 1)
            found = (
                np.vstack([found[0], wrong]),
                np.concatenate([found[1], rng.integers(0, 2, extra)]),
                np.concatenate([found[2], rng.uniform(0.1, 1, extra)]),
            )
        predictions.append(found)
        examples.append(ex)
    return examples, predictions


def test_map50_95_equals_stock_cocoeval_on_noisy_predictions():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    examples, predictions = noisy_case(0, 12)

    ours = evaluate(examples, LABELS, predictions)

    gt = COCO()
    gt.dataset = {
        "images": [{"id": i + 1, "width": 320, "height": 240} for i in range(len(examples))],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {
                "id": n + 1,
                "image_id": i + 1,
                "category_id": b.class_id + 1,
                "bbox": [b.xmin * 320, b.ymin * 240, (b.xmax - b.xmin) * 320, (b.ymax - b.ymin) * 240],
                "area": (b.xmax - b.xmin) * 320 * (b.ymax - b.ymin) * 240,
                "iscrowd": 0,
            }
            for n, (i, b) in enumerate((i, b) for i, ex in enumerate(examples) for b in ex.boxes)
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        results = [
            {
                "image_id": i + 1,
                "category_id": int(c) + 1,
                "bbox": [x0 * 320, y0 * 240, (x1 - x0) * 320, (y1 - y0) * 240],
                "score": float(s),
            }
            for i, (boxes, classes, scores) in enumerate(predictions)
            for (y0, x0, y1, x1), c, s in zip(boxes, classes, scores, strict=True)
        ]
        stock = COCOeval(gt, gt.loadRes(results), "bbox")
        stock.evaluate()
        stock.accumulate()
        stock.summarize()

    assert 0.2 < ours.map50_95 < 0.95  # a real, non-trivial case
    assert ours.map50_95 == pytest.approx(stock.stats[0], abs=1e-9)
    assert ours.map50 == pytest.approx(stock.stats[1], abs=1e-9)


def test_predictions_keyed_by_image_and_json_round_trip():
    keyed = {e.image_ref: p for e, p in zip(EXAMPLES, truth_as_predictions(EXAMPLES), strict=True)}
    del keyed["b.jpg"]  # an image with no entry has no detections
    evaluation = evaluate(EXAMPLES, LABELS, keyed)
    assert 0.0 < evaluation.map50 < 1.0

    data = json.loads(evaluation.to_json())
    assert set(data) == {
        "evaluatedExampleCount",
        "imageObjectDetectionEvaluationMetrics",
        "perLabel",
        "map50",
        "map50_95",
    }
    assert Evaluation.from_dict(data) == evaluation


def test_label_map50_is_each_labels_ap_at_iou_half():
    # the dog is found; the cat in b.jpg is missed, so half the cats are found at full precision
    keyed = {e.image_ref: p for e, p in zip(EXAMPLES, truth_as_predictions(EXAMPLES), strict=True)}
    del keyed["b.jpg"]
    evaluation = evaluate(EXAMPLES, LABELS, keyed)
    assert evaluation.label_map50() == {"cat": pytest.approx(0.5, abs=0.01), "dog": pytest.approx(1.0)}
    assert Evaluation.from_dict(json.loads(evaluation.to_json())).label_map50() == evaluation.label_map50()


def test_malformed_predictions_are_rejected():
    with pytest.raises(ValueError, match="1 predictions for 2 examples"):
        evaluate(EXAMPLES, LABELS, truth_as_predictions(EXAMPLES)[:1])
    with pytest.raises(ValueError, match="class id 5 is not in 0–1"):
        evaluate(EXAMPLES[:1], LABELS, [([[0, 0, 1, 1]], [5], [0.5])])
    with pytest.raises(ValueError, match="1 boxes, 2 classes"):
        evaluate(EXAMPLES[:1], LABELS, [([[0, 0, 1, 1]], [0, 1], [0.5])])
