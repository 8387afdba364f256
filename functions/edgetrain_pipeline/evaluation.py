"""Turn a model evaluation (AutoML v1 proto or Vertex metrics) into the summary the pipeline stores, compares
and charts, overall and per label. Both backends produce the same summary, so champion decisions and the
status page do not care which one trained the model (model_evaluations.py gathers a model's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MAX_CURVE_POINTS = 25  # per IoU threshold; enough for a chart, small enough for a Firestore document
COCO_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # AP@[.5:.95]

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
    return _summarize(
        metrics.bounding_box_mean_average_precision,
        metrics.evaluated_bounding_box_count,
        _automl_entries(metrics),
    )


def _automl_entries(metrics: Any) -> list[IouEntry]:
    return [
        (
            entry.iou_threshold,
            entry.mean_average_precision,
            [(c.confidence_threshold, c.recall, c.precision) for c in entry.confidence_metrics_entries],
        )
        for entry in metrics.bounding_box_metrics_entries
    ]


def summarize_vertex_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The same summary from a Vertex ModelEvaluation's `metrics` (image object-detection metrics schema:
    boundingBoxMeanAveragePrecision, evaluatedBoundingBoxCount, boundingBoxMetrics[].confidenceMetrics[])."""
    return _summarize(
        metrics.get("boundingBoxMeanAveragePrecision", 0.0),
        metrics.get("evaluatedBoundingBoxCount", 0),
        _vertex_entries(metrics),
    )


def _vertex_entries(metrics: Mapping[str, Any]) -> list[IouEntry]:
    return [
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


def vertex_label_summary(evaluation_slice: Mapping[str, Any]) -> dict[str, Any]:
    """label_summary of a Vertex ModelEvaluationSlice (as a dict) of dimension annotationSpec; Vertex names
    the label, not its annotation spec id."""
    metrics = evaluation_slice.get("metrics") or {}
    return label_summary(
        (evaluation_slice.get("slice_") or {}).get("value", ""),
        "",
        metrics.get("evaluatedBoundingBoxCount", 0),
        metrics.get("boundingBoxMeanAveragePrecision", 0.0),
        _vertex_entries(metrics),
    )


def label_summary(
    label: str, spec_id: str, boxes: int, mean_ap: float, entries: Iterable[IouEntry]
) -> dict[str, Any]:
    """One label's figures: {label, annotationSpecId, ap50, ap5095, boxes, curve50: {confidence[], recall[],
    precision[]}}. ap50 is None when the evaluation has no IoU 0.5 entry; ap5095 is the mean over IoU .5:.95
    (the label's boundingBoxMeanAveragePrecision when those entries are missing); curve50 is thinned to
    MAX_CURVE_POINTS and ordered by confidence."""
    by_iou = {round(float(iou), 2): (float(ap), points) for iou, ap, points in entries}
    coco = [by_iou[t][0] for t in COCO_IOU_THRESHOLDS if t in by_iou]
    ap50, points = by_iou.get(0.5, (None, []))
    curve = _thin(sorted((round(float(c), 4), round(float(r), 4), round(float(p), 4)) for c, r, p in points))
    return {
        "label": label,
        "annotationSpecId": spec_id,
        "ap50": ap50,
        "ap5095": sum(coco) / len(coco) if coco else float(mean_ap),
        "boxes": int(boxes),
        "curve50": {
            "confidence": [c for c, _, _ in curve],
            "recall": [r for _, r, _ in curve],
            "precision": [p for _, _, p in curve],
        },
    }


def automl_label_summary(evaluation: Any, label: str) -> dict[str, Any]:
    """label_summary of an AutoML v1 per-label ModelEvaluation (`label`: its label's display name)."""
    metrics = evaluation.image_object_detection_evaluation_metrics
    return label_summary(
        label,
        evaluation.annotation_spec_id,
        metrics.evaluated_bounding_box_count,
        metrics.bounding_box_mean_average_precision,
        _automl_entries(metrics),
    )


def headline_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The scalar metrics of a summary (what notifications carry; not its image count)."""
    return {
        k: float(v)
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "imageCount"
    }


def with_images(
    summary: dict[str, Any], per_label: list[dict[str, Any]], image_count: int | None, digest: str | None
) -> dict[str, Any]:
    """A summary with its labels' figures (sorted by label), its image count and the TEST images' digest
    (those two when known)."""
    if not summary:
        return {}
    out = {**summary, "perLabel": sorted(per_label, key=lambda e: e["label"])}
    if image_count is not None:
        out["imageCount"] = int(image_count)
    if digest:
        out["testImagesDigest"] = digest
    return out
