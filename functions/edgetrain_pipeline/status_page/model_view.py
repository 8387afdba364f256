"""The evaluation view of one training: per-label figures at a confidence threshold, the confusion table and
sample predictions the trainer wrote next to the exported model (diagnostics/), the learning curve, and the
time elapsed and left. Everything is read, nothing computed from images: functions stay free of TensorFlow."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any, TypeGuard

from ..storage_reader import READ_ERRORS, StorageReader, split_uri
from . import charts
from .values import finite_number, listed, mapping, text

_LOGGER = logging.getLogger("edgetrain_pipeline")
DEFAULT_THRESHOLD = 0.5  # AutoML's default score threshold for Predict
SAMPLE_FILE = re.compile(r"^sample-\d{1,3}\.jpg$")


def package_location(doc: dict[str, Any]) -> str | None:
    """gs:// folder of the training's exported TF Lite package, without its trailing /, once exported; None
    for a location that is no gs://BUCKET/PATH folder (an odd document: there is nothing to read)."""
    tflite = mapping(mapping(doc.get("exports")).get("tflite"))
    location = text(tflite.get("location")) or text(doc.get("exportLocation"))
    if not location:
        return None
    folder = location.rstrip("/")
    try:
        split_uri(f"{folder}/diagnostics")
    except ValueError:
        return None
    return folder


def read_diagnostics(reader: StorageReader, doc: dict[str, Any]) -> dict[str, Any]:
    """diagnostics.json of the exported package (edgetrain_trainer/diagnostics.py); empty without one (not
    exported yet, or a backend that writes none) or when it is no JSON object."""
    location = package_location(doc)
    if location is None:
        return {}
    uri = f"{location}/diagnostics/diagnostics.json"
    try:
        raw = reader.read(uri)
        return mapping(json.loads(raw)) if raw else {}
    # no read access, a broken object, JSON nested past the parser's depth: the rest of the view still shows
    except (*READ_ERRORS, RecursionError) as exc:
        _LOGGER.warning("status page: %s unreadable: %s", uri, exc)
        return {}


def read_sample(reader: StorageReader, doc: dict[str, Any], name: str) -> bytes | None:
    """One sample picture of the exported package (diagnostics/sample-N.jpg); None when there is no such
    picture. Raises READ_ERRORS when the bucket cannot be read."""
    location = package_location(doc)
    if location is None or not SAMPLE_FILE.match(name):
        return None
    return reader.read(f"{location}/diagnostics/{name}")


def sample_data_uri(reader: StorageReader, doc: dict[str, Any], name: str) -> str | None:
    """The sample picture as a data: URL, for a view saved as one file; None when it cannot be read."""
    try:
        data = read_sample(reader, doc, name)
    except READ_ERRORS as exc:
        _LOGGER.warning("status page: sample picture %s unreadable: %s", name, exc)
        return None
    return f"data:image/jpeg;base64,{base64.b64encode(data).decode()}" if data else None


def nearest(confidence: list[float], threshold: float) -> int | None:
    """Index of the stored confidence threshold closest to `threshold` (the page's script does the same)."""
    if not confidence:
        return None
    return min(range(len(confidence)), key=lambda i: (abs(confidence[i] - threshold), i))


def label_rows(evaluation: dict[str, Any], threshold: float) -> list[dict[str, Any]]:
    """One row per label of evaluation.perLabel, with precision and recall at `threshold` and its PR chart."""
    rows = []
    for entry in listed(evaluation.get("perLabel"), dict):
        confidence, recall, precision = _curve50(entry)
        at = nearest(confidence, threshold)
        marker = charts.pr_xy(recall[at], precision[at]) if at is not None else None
        rows.append(
            {
                "label": text(entry.get("label")),
                "ap50": finite_number(entry.get("ap50")),
                "ap5095": finite_number(entry.get("ap5095")),
                "boxes": finite_number(entry.get("boxes")),
                "confidence": ",".join(f"{c:g}" for c in confidence),
                "recall": ",".join(f"{r:g}" for r in recall),
                "precision": ",".join(f"{p:g}" for p in precision),
                "recallAt": recall[at] if at is not None else None,
                "precisionAt": precision[at] if at is not None else None,
                "points": charts.pr_points(recall, precision),
                "marker": marker,
            }
        )
    return rows


def _curve50(entry: dict[str, Any]) -> tuple[list[float], list[float], list[float]]:
    """A label's (confidence, recall, precision) at IoU 0.5: the points where all three are numbers."""
    curve = mapping(entry.get("curve50"))
    columns = [listed(curve.get(key)) for key in _CURVE_KEYS]
    points = [
        (float(c), float(r), float(p))
        for c, r, p in zip(*columns, strict=False)  # one shorter than the others: up to its end
        if all(finite_number(v) is not None for v in (c, r, p))
    ]
    return [c for c, _, _ in points], [r for _, r, _ in points], [p for _, _, p in points]


_CURVE_KEYS = ("confidence", "recall", "precision")


def confusion_view(diagnostics: dict[str, Any]) -> dict[str, Any] | None:
    """The confusion table; None without one, or with one of another shape than the trainer writes."""
    labels, table = diagnostics.get("labels"), diagnostics.get("confusion")
    rows = [_numbers(row) for row in table] if _all_of(table, list) else []
    if not rows or None in rows or not _all_of(labels, str):
        return None
    names = [*labels, text(diagnostics.get("background")) or "background"]
    return {
        "columns": names,
        "rows": [{"label": name, "counts": counts} for name, counts in zip(names, rows, strict=False)],
        "iou": diagnostics.get("iouThreshold"),
        "score": diagnostics.get("scoreThreshold"),
    }


def sample_views(diagnostics: dict[str, Any]) -> list[dict[str, Any]]:
    """The sample images with their boxes in percent of the picture (drawn by SVG over the <img>); a sample
    of another shape than the trainer writes is left out."""
    views = (_sample_view(sample) for sample in listed(diagnostics.get("samples"), dict))
    return [view for view in views if view is not None]


def _sample_view(sample: dict[str, Any]) -> dict[str, Any] | None:
    file, score = sample.get("file"), finite_number(sample.get("score"))
    truth = _boxes(sample.get("truth", []), scored=False)
    predicted = _boxes(sample.get("predicted", []), scored=True)
    if not SAMPLE_FILE.match(file if isinstance(file, str) else "") or None in (score, truth, predicted):
        return None
    return {
        "file": file,
        "image": text(sample.get("image")),
        "kind": text(sample.get("kind")),
        "score": score,
        "truth": truth,
        "predicted": predicted,
    }


def _boxes(entries: Any, scored: bool) -> list[dict[str, Any]] | None:
    """Boxes in percent of the picture; None unless each has a label and 4 numbers (and a score: `scored`)."""
    if not _all_of(entries, dict):
        return None
    boxes = [box for entry in entries if (box := _box(entry, scored)) is not None]
    return boxes if len(boxes) == len(entries) else None


def _box(entry: dict[str, Any], scored: bool) -> dict[str, Any] | None:
    label, box = text(entry.get("label")), _numbers(entry.get("box"))
    score = finite_number(entry.get("score"))
    if label is None or box is None or len(box) != 4 or (scored and score is None):
        return None
    xmin, ymin, xmax, ymax = (float(v) for v in box)
    return {
        "label": label,
        "score": score,
        "x": round(100 * xmin, 2),
        "y": round(100 * ymin, 2),
        "w": round(100 * max(xmax - xmin, 0.0), 2),
        "h": round(100 * max(ymax - ymin, 0.0), 2),
    }


def _all_of(value: Any, kind: type) -> TypeGuard[list[Any]]:
    """Whether the value is a list of `kind` only."""
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def _numbers(value: Any) -> list[float] | None:
    """The value when it is a list of finite numbers only; anything else None."""
    return value if isinstance(value, list) and all(finite_number(v) is not None for v in value) else None


def comparison_view(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The comparison with the champion the promotion stored (export_records); None without one. Fields of
    the wrong type read as missing."""
    comparison = mapping(doc.get("comparison"))
    if not comparison:
        return None
    return {
        "championTrainingId": text(comparison.get("championTrainingId")),
        "championModel": text(comparison.get("championModel")),
        "decidedBy": text(comparison.get("decidedBy")),
        "sameImages": comparison.get("sameImages") is True,
        "labels": listed(comparison.get("labels"), dict),
    }


def timing(doc: dict[str, Any], now: datetime | None = None) -> dict[str, float | None]:
    """Seconds elapsed since the training was created (until it finished), the budget in wall seconds
    (milli node hours on one node), and for a running training an ETA from its progress, capped by the
    budget (progress is budget-based until the trainer converges)."""
    now = now or datetime.now(UTC)
    created, finished = doc.get("createdAt"), doc.get("finishedAt")
    elapsed = None
    if isinstance(created, datetime):
        elapsed = max(((finished if isinstance(finished, datetime) else now) - created).total_seconds(), 0.0)
    budget = finite_number(doc.get("trainBudgetMilliNodeHours")) or 0
    budget_s = finite_number(budget / 1000 * 3600) or None  # a budget near float's limit: inf seconds
    eta = None
    percent = min(float(finite_number(doc.get("progressPercent")) or 0), 100.0)
    if doc.get("state") in ("CREATING", "RUNNING") and elapsed is not None:
        by_progress = elapsed * (100 - percent) / percent if percent >= 1 else None
        by_budget = max(budget_s - elapsed, 0.0) if budget_s else None
        candidates = [v for v in (by_progress, by_budget) if v is not None]
        eta = min(candidates) if candidates else None
    return {"elapsedS": elapsed, "budgetS": budget_s, "etaS": eta}


def duration(seconds: float | None) -> str:
    """'1 h 05 min', '4 min 10 s', '—'."""
    finite = finite_number(seconds)
    if finite is None:
        return "—"
    hours, rest = divmod(int(round(finite)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def threshold_of(raw: str | None) -> float:
    """The ?threshold= of the page, clamped to 0–1; the default when missing or not a number."""
    try:
        value = float(raw) if raw else DEFAULT_THRESHOLD
    except ValueError:
        return DEFAULT_THRESHOLD
    return min(max(value, 0.0), 1.0) if value == value else DEFAULT_THRESHOLD
