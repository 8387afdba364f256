"""Turn an AutoML ModelEvaluation into the small summary the pipeline stores, compares and charts."""

from __future__ import annotations

from typing import Any

MAX_CURVE_POINTS = 25  # per IoU threshold; enough for a chart, small enough for a Firestore document


def _thin(points: list, limit: int = MAX_CURVE_POINTS) -> list:
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def summarize_evaluation(evaluation: Any) -> dict[str, Any]:
    """{boundingBoxMeanAveragePrecision, meanAveragePrecisionAt50, evaluatedBoundingBoxCount, curves}.

    curves: one per IoU threshold, {iouThreshold, meanAveragePrecision, recall: […], precision: […]} ordered
    by confidence threshold, thinned to MAX_CURVE_POINTS (parallel lists: Firestore has no nested arrays).
    """
    metrics = evaluation.image_object_detection_evaluation_metrics
    curves: list[dict[str, Any]] = []
    map50 = None
    for entry in metrics.bounding_box_metrics_entries:
        confidence = sorted(entry.confidence_metrics_entries, key=lambda c: c.confidence_threshold)
        points = _thin([(round(float(c.recall), 4), round(float(c.precision), 4)) for c in confidence])
        iou = round(float(entry.iou_threshold), 2)
        curves.append(
            {
                "iouThreshold": iou,
                "meanAveragePrecision": float(entry.mean_average_precision),
                "recall": [r for r, _ in points],
                "precision": [p for _, p in points],
            }
        )
        if abs(iou - 0.5) < 1e-6:
            map50 = float(entry.mean_average_precision)
    curves.sort(key=lambda c: c["iouThreshold"])
    summary: dict[str, Any] = {
        "boundingBoxMeanAveragePrecision": float(metrics.bounding_box_mean_average_precision),
        "evaluatedBoundingBoxCount": int(metrics.evaluated_bounding_box_count),
        "curves": curves,
    }
    if map50 is not None:
        summary["meanAveragePrecisionAt50"] = map50
    return summary


def headline_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics of a summary (what notifications carry)."""
    return {k: float(v) for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)}
