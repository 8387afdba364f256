"""Detection evaluation in AutoML's shape, computed by pycocotools' COCOeval (no hand-written AP).

    evaluation = evaluate(examples, labels, predictions)
    evaluation.map50, evaluation.map50_95, evaluation.to_dict()

What is computed (one COCOeval run, bbox, all areas, at most 100 detections per image and class,
IoU thresholds 0.05, 0.10, …, 0.95, 0.96, 0.97, 0.98, 0.99):
- meanAveragePrecision at an IoU threshold: COCO's 101-point interpolated AP at that threshold,
  averaged over the labels that have ground truth (for a label entry: that label's AP; 0.0 if it
  has no ground-truth box in the evaluated images).
- boundingBoxMeanAveragePrecision: the mean of meanAveragePrecision over the 23 IoU thresholds
  above (AutoML: "mean_average_precision averaged over all bounding_box_metrics_entries").
- map50: meanAveragePrecision at IoU 0.5 (COCO AP50). map50_95: the mean over IoU 0.50, 0.55, …,
  0.95 — exactly COCO's AP@[.5:.95] (COCOeval.stats[0]).
- confidenceMetricsEntries, per IoU threshold, for confidence thresholds 0.05, 0.10, …, 0.95, 0.96,
  …, 0.99 (AutoML's list): detections with score ≥ threshold, matched to ground truth by COCOeval
  (greedy by score, so the matching equals matching only those detections). precision = TP/(TP+FP)
  (1.0 when no detection passes: nothing predicted wrongly); recall = TP / ground-truth boxes
  (0.0 with no ground truth); f1Score = 2PR/(P+R) (0.0 when both are 0).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data.dataset import Example

IOU_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20)) + (0.96, 0.97, 0.98, 0.99)
CONFIDENCE_THRESHOLDS = IOU_THRESHOLDS  # AutoML uses the same list for label-match confidence
COCO_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
MAX_DETECTIONS = 100  # per image and class, as COCO's AP

# One image's predictions: boxes float [N, 4] (ymin, xmin, ymax, xmax, normalized 0–1), class ids [N]
# (indices into labels; floats as TF Lite outputs them are rounded), scores [N]. Only the first
# `count` rows of a TF Lite output are real: slice before passing.
PredictionTriple = tuple[Any, Any, Any]


@dataclass
class Evaluation:
    """Overall metrics and one entry per label, in AutoML v1 REST (camelCase) shape."""

    metrics: dict[str, Any]  # imageObjectDetectionEvaluationMetrics for all labels
    evaluated_example_count: int
    per_label: list[dict[str, Any]]  # annotationSpecId, displayName, evaluatedExampleCount, metrics
    map50: float
    map50_95: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable; per-label entries mirror AutoML's per-annotation-spec ModelEvaluations."""
        return {
            "evaluatedExampleCount": self.evaluated_example_count,
            "imageObjectDetectionEvaluationMetrics": self.metrics,
            "perLabel": self.per_label,
            "map50": self.map50,
            "map50_95": self.map50_95,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def label_map50(self) -> dict[str, float]:
        """Each label's AP@0.5 (its meanAveragePrecision at IoU 0.5), by display name."""
        return {
            entry["displayName"]: next(
                e["meanAveragePrecision"]
                for e in entry["imageObjectDetectionEvaluationMetrics"]["boundingBoxMetricsEntries"]
                if e["iouThreshold"] == 0.5
            )
            for entry in self.per_label
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            metrics=dict(data["imageObjectDetectionEvaluationMetrics"]),
            evaluated_example_count=int(data["evaluatedExampleCount"]),
            per_label=list(data["perLabel"]),
            map50=float(data["map50"]),
            map50_95=float(data["map50_95"]),
        )


def evaluate(
    examples: Sequence[Example],
    labels: Sequence[str],
    predictions: Sequence[PredictionTriple] | Mapping[str, PredictionTriple],
) -> Evaluation:
    """Evaluate predictions against the examples' ground-truth boxes.

    predictions: a sequence aligned with `examples`, or a mapping keyed by example.image_ref or
    str(example.image_path); an image missing from the mapping has no detections.
    Raises ValueError for malformed predictions (shapes, class ids outside labels).
    """
    coco_eval = _matched(examples, labels, _align(examples, predictions), IOU_THRESHOLDS)
    ap, has_gt = _accumulated_ap(coco_eval)
    matches = _matches_by_class(coco_eval, len(labels))

    gt_counts = np.bincount([b.class_id for e in examples for b in e.boxes], minlength=len(labels))
    overall_ap = ap[:, has_gt].mean(axis=1) if has_gt.any() else np.zeros(len(IOU_THRESHOLDS))
    metrics = _metrics(overall_ap, _merge(matches), int(gt_counts.sum()))
    per_label = []
    for k, label in enumerate(labels):
        images_with_label = sum(any(b.class_id == k for b in e.boxes) for e in examples)
        per_label.append(
            {
                "annotationSpecId": str(k),
                "displayName": label,
                "evaluatedExampleCount": images_with_label,
                "imageObjectDetectionEvaluationMetrics": _metrics(ap[:, k], matches[k], int(gt_counts[k])),
            }
        )
    coco_index = [IOU_THRESHOLDS.index(t) for t in COCO_IOU_THRESHOLDS]
    return Evaluation(
        metrics=metrics,
        evaluated_example_count=len(examples),
        per_label=per_label,
        map50=float(overall_ap[IOU_THRESHOLDS.index(0.5)]),
        map50_95=float(overall_ap[coco_index].mean()),
    )


def _matched(examples, labels, per_image, iou_thresholds) -> Any:
    """A pycocotools COCOeval that has matched the detections to the ground truth at those IoU thresholds
    and accumulated precision (all areas, MAX_DETECTIONS per image and class)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, dt = COCO(), COCO()
    gt.dataset, dt.dataset = _coco_datasets(examples, labels, per_image)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt.createIndex()
        dt.createIndex()
        coco_eval = COCOeval(gt, dt, "bbox")
        params = coco_eval.params
        params.iouThrs = np.array(iou_thresholds)
        params.areaRng, params.areaRngLbl = [[0.0, 1e10]], ["all"]
        params.maxDets = [MAX_DETECTIONS]
        coco_eval.evaluate()
        coco_eval.accumulate()
    return coco_eval


def _accumulated_ap(coco_eval) -> tuple[np.ndarray, np.ndarray]:
    """AP [T, K] per IoU threshold and class (0.0 for a class without ground truth) and which classes
    have ground truth [K]."""
    precision = coco_eval.eval["precision"][:, :, :, 0, 0]  # [T, R, K]; -1 where a class has no GT
    has_gt = (precision > -1).all(axis=(0, 1))
    return np.where(has_gt, precision.mean(axis=1), 0.0), has_gt


def _align(examples: Sequence[Example], predictions: Any) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    if isinstance(predictions, Mapping):
        empty = (np.zeros((0, 4)), np.zeros(0), np.zeros(0))
        items = [predictions.get(e.image_ref, predictions.get(str(e.image_path), empty)) for e in examples]
    else:
        items = list(predictions)
        if len(items) != len(examples):
            raise ValueError(f"{len(items)} predictions for {len(examples)} examples; pass one per example")
    aligned = []
    for i, (boxes, classes, scores) in enumerate(items):
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        classes = np.rint(np.asarray(classes, np.float64).reshape(-1)).astype(np.int64)
        scores = np.asarray(scores, np.float64).reshape(-1)
        if not len(boxes) == len(classes) == len(scores):
            raise ValueError(
                f"prediction {i}: {len(boxes)} boxes, {len(classes)} classes, {len(scores)} scores"
            )
        aligned.append((np.clip(boxes, 0.0, 1.0), classes, scores))
    return aligned


def _coco_datasets(examples, labels, per_image) -> tuple[dict, dict]:
    """Ground truth and detections as COCO dicts, boxes in pixels (x, y, w, h); ids start at 1."""
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(labels)]
    images = [{"id": i + 1, "width": e.width, "height": e.height} for i, e in enumerate(examples)]
    gts: list[dict[str, Any]] = []
    dts: list[dict[str, Any]] = []
    for i, (example, (boxes, classes, scores)) in enumerate(zip(examples, per_image, strict=True)):
        w, h = example.width, example.height
        for b in example.boxes:
            bbox = [b.xmin * w, b.ymin * h, (b.xmax - b.xmin) * w, (b.ymax - b.ymin) * h]
            gts.append(
                {
                    "id": len(gts) + 1,
                    "image_id": i + 1,
                    "category_id": b.class_id + 1,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
        for (ymin, xmin, ymax, xmax), cls, score in zip(boxes, classes, scores, strict=True):
            if not 0 <= cls < len(labels):
                raise ValueError(
                    f"prediction for {example.image_ref}: class id {cls} is not in 0–{len(labels) - 1}"
                )
            bbox = [xmin * w, ymin * h, max(xmax - xmin, 0.0) * w, max(ymax - ymin, 0.0) * h]
            dts.append(
                {
                    "id": len(dts) + 1,
                    "image_id": i + 1,
                    "category_id": int(cls) + 1,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                    "score": float(score),
                }
            )
    return (
        {"images": images, "categories": categories, "annotations": gts},
        {"images": images, "categories": categories, "annotations": dts},
    )


def _matches_by_class(coco_eval, num_classes: int) -> list[dict[str, Any]]:
    """Per class: detection scores [D], matched [T, D] and ignored [T, D] flags from COCOeval, GT count."""
    collected: list[dict[str, list]] = [
        {"scores": [], "matched": [], "ignored": [], "gt": []} for _ in range(num_classes)
    ]
    for record in coco_eval.evalImgs:
        if record is None:
            continue
        c = collected[record["category_id"] - 1]
        c["scores"].append(np.asarray(record["dtScores"], np.float64))
        c["matched"].append(np.asarray(record["dtMatches"]) > 0)
        c["ignored"].append(np.asarray(record["dtIgnore"], bool))
        c["gt"].append(int((np.asarray(record["gtIgnore"]) == 0).sum()))
    t = len(IOU_THRESHOLDS)
    return [
        {
            "scores": np.concatenate(c["scores"]) if c["scores"] else np.zeros(0),
            "matched": np.concatenate(c["matched"], axis=1) if c["matched"] else np.zeros((t, 0), bool),
            "ignored": np.concatenate(c["ignored"], axis=1) if c["ignored"] else np.zeros((t, 0), bool),
            "gt": np.int64(sum(c["gt"])),
        }
        for c in collected
    ]


def _merge(matches: list[dict[str, Any]]) -> dict[str, Any]:
    t = len(IOU_THRESHOLDS)
    return {
        "scores": np.concatenate([m["scores"] for m in matches]) if matches else np.zeros(0),
        "matched": np.concatenate([m["matched"] for m in matches], axis=1)
        if matches
        else np.zeros((t, 0), bool),
        "ignored": np.concatenate([m["ignored"] for m in matches], axis=1)
        if matches
        else np.zeros((t, 0), bool),
        "gt": np.int64(sum(int(m["gt"]) for m in matches)),
    }


def _metrics(ap_per_iou: np.ndarray, match: dict[str, Any], box_count: int) -> dict[str, Any]:
    """imageObjectDetectionEvaluationMetrics for one AP row [T] and one set of matches."""
    entries = []
    for t, iou in enumerate(IOU_THRESHOLDS):
        entries.append(
            {
                "iouThreshold": iou,
                "meanAveragePrecision": round(float(ap_per_iou[t]), 6),
                "confidenceMetricsEntries": _confidence_entries(
                    match["scores"], match["matched"][t], match["ignored"][t], int(match["gt"])
                ),
            }
        )
    return {
        "evaluatedBoundingBoxCount": box_count,
        "boundingBoxMetricsEntries": entries,
        "boundingBoxMeanAveragePrecision": round(float(np.mean(ap_per_iou)), 6),
    }


def _confidence_entries(scores, matched, ignored, gt_count: int) -> list[dict[str, float]]:
    entries = []
    for threshold in CONFIDENCE_THRESHOLDS:
        kept = (scores >= threshold) & ~ignored
        tp = int((kept & matched).sum())
        fp = int((kept & ~matched).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / gt_count if gt_count else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        entries.append(
            {
                "confidenceThreshold": threshold,
                "recall": round(recall, 6),
                "precision": round(precision, 6),
                "f1Score": round(f1, 6),
            }
        )
    return entries
