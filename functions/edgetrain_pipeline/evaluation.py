"""Turn a model evaluation (AutoML v1 proto or Vertex metrics) into the summary the pipeline stores, compares
and charts. Both backends produce the same summary, so champion decisions and the status page do not care
which one trained the model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MAX_CURVE_POINTS = 25  # per IoU threshold; enough for a chart, small enough for a Firestore document

# (iouThreshold, meanAveragePrecision, [(confidenceThreshold, recall, precision), ...])
IouEntry = tuple[float, float, list[tuple[float, float, float]]]


def _thin(points: list, limit: int = MAX_CURVE_POINTS) -> list:
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def _summarize(mean_ap: float, evaluated_boxes: int, entries: Iterable[IouEntry]) -> dict[str, Any]:
    curves: list[dict[str, Any]] = []
    map50 = None
    for iou_threshold, entry_map, confidence in entries:
        ordered = sorted(confidence, key=lambda c: c[0])
        points = _thin([(round(float(r), 4), round(float(p), 4)) for _, r, p in ordered])
        iou = round(float(iou_threshold), 2)
        curves.append(
            {
                "iouThreshold": iou,
                "meanAveragePrecision": float(entry_map),
                "recall": [r for r, _ in points],
                "precision": [p for _, p in points],
            }
        )
        if abs(iou - 0.5) < 1e-6:
            map50 = float(entry_map)
    curves.sort(key=lambda c: c["iouThreshold"])
    summary: dict[str, Any] = {
        "boundingBoxMeanAveragePrecision": float(mean_ap),
        "evaluatedBoundingBoxCount": int(evaluated_boxes),
        "curves": curves,
    }
    if map50 is not None:
        summary["meanAveragePrecisionAt50"] = map50
    return summary


def summarize_evaluation(evaluation: Any) -> dict[str, Any]:
    """{boundingBoxMeanAveragePrecision, meanAveragePrecisionAt50, evaluatedBoundingBoxCount, curves} of an
    AutoML v1 ModelEvaluation.

    curves: one per IoU threshold, {iouThreshold, meanAveragePrecision, recall: […], precision: […]} ordered
    by confidence threshold, thinned to MAX_CURVE_POINTS (parallel lists: Firestore has no nested arrays).
    """
    metrics = evaluation.image_object_detection_evaluation_metrics
    entries = [
        (
            entry.iou_threshold,
            entry.mean_average_precision,
            [(c.confidence_threshold, c.recall, c.precision) for c in entry.confidence_metrics_entries],
        )
        for entry in metrics.bounding_box_metrics_entries
    ]
    return _summarize(
        metrics.bounding_box_mean_average_precision, metrics.evaluated_bounding_box_count, entries
    )


def summarize_vertex_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The same summary from a Vertex ModelEvaluation's `metrics` (image object-detection metrics schema:
    boundingBoxMeanAveragePrecision, evaluatedBoundingBoxCount, boundingBoxMetrics[].confidenceMetrics[])."""
    entries = [
        (
            entry.get("iouThreshold", 0.0),
            entry.get("meanAveragePrecision", 0.0),
            [
                (c.get("confidenceThreshold", 0.0), c.get("recall", 0.0), c.get("precision", 0.0))
                for c in entry.get("confidenceMetrics", [])
            ],
        )
        for entry in metrics.get("boundingBoxMetrics", [])
    ]
    return _summarize(
        metrics.get("boundingBoxMeanAveragePrecision", 0.0),
        metrics.get("evaluatedBoundingBoxCount", 0),
        entries,
    )


def headline_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics of a summary (what notifications carry)."""
    return {k: float(v) for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)}
