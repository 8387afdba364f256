"""Read models for the status page: datasets and trainings from Firestore, shaped for HTML and JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from ..firestore_store import FirestoreStore, as_dict

CHART_W, CHART_H, PAD = 240, 160, 24  # SVG chart size in px and the padding that holds the axes
_COLORS = (
    "#1b6ac9",
    "#d9480f",
    "#2b8a3e",
    "#862e9c",
    "#e67700",
    "#0b7285",
    "#c2255c",
    "#5c940d",
    "#364fc7",
    "#495057",
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def chart_lines(evaluation: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One SVG polyline per IoU threshold: precision (y) against recall (x), both 0–1."""
    lines = []
    for i, curve in enumerate((evaluation or {}).get("curves", [])):
        points = " ".join(
            f"{PAD + r * (CHART_W - 2 * PAD):.1f},{CHART_H - PAD - p * (CHART_H - 2 * PAD):.1f}"
            for r, p in zip(curve.get("recall", []), curve.get("precision", []), strict=False)
        )
        lines.append(
            {
                "iou": curve["iouThreshold"],
                "map": curve.get("meanAveragePrecision"),
                "color": _COLORS[i % len(_COLORS)],
                "points": points,
            }
        )
    return lines


def training_view(doc: dict[str, Any]) -> dict[str, Any]:
    evaluation = doc.get("evaluation") or {}
    return {
        "trainingId": doc.get("trainingId"),
        "dataset": doc.get("datasetId"),
        "displayName": doc.get("displayName"),
        "modelType": doc.get("modelType"),
        "state": doc.get("state"),
        "exportState": doc.get("exportState"),
        "progressPercent": doc.get("progressPercent") or 0,
        "trainBudgetMilliNodeHours": doc.get("trainBudgetMilliNodeHours"),
        "trainCostMilliNodeHours": doc.get("trainCostMilliNodeHours"),
        "stopReason": doc.get("stopReason"),
        "boundingBoxMeanAveragePrecision": evaluation.get("boundingBoxMeanAveragePrecision"),
        "meanAveragePrecisionAt50": evaluation.get("meanAveragePrecisionAt50"),
        "curves": evaluation.get("curves", []),
        "promoted": doc.get("promoted"),
        "model": doc.get("model"),
        "operation": doc.get("operation"),
        "exportLocation": doc.get("exportLocation"),
        "notification": doc.get("notification"),
        "error": doc.get("error") or doc.get("lastError"),
        "createdAt": _iso(doc.get("createdAt")),
        "updatedAt": _iso(doc.get("updatedAt")),
        "finishedAt": _iso(doc.get("finishedAt")),
    }


def list_datasets(store: FirestoreStore) -> list[dict[str, Any]]:
    docs = store.retry(lambda: list(store.collection("datasets").stream()))()
    return [
        {
            "datasetId": s.id,
            "dataset": d.get("dataset"),
            "activeTraining": d.get("activeTraining"),
            "championModel": d.get("championModel"),
            "championMetric": d.get("championMetric"),
            "championValue": d.get("championValue"),
            "trainingCount": d.get("trainingCount", 0),
            "pendingRequest": bool(d.get("pendingRequest")),
        }
        for s in docs
        for d in [as_dict(s)]
    ]


def list_trainings(
    store: FirestoreStore, page_size: int, page_token: str | None = None, dataset_id: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the page token is the id of the last training of the previous page."""
    query: Any = store.collection("trainings")
    if dataset_id:
        query = query.where(filter=FieldFilter("datasetId", "==", dataset_id))
    query = query.order_by("createdAt", direction=firestore.Query.DESCENDING)
    if page_token:
        cursor = store.retry(store.collection("trainings").document(page_token).get)()
        if cursor.exists:
            query = query.start_after(cursor)
    snaps = store.retry(lambda: list(query.limit(page_size + 1).stream()))()
    views = [training_view(as_dict(s)) for s in snaps[:page_size]]
    next_token = snaps[page_size - 1].id if len(snaps) > page_size else None
    return views, next_token


def recent_rejected(store: FirestoreStore, limit: int = 20) -> list[dict[str, Any]]:
    query = store.collection("rejected_messages").order_by("receivedAt", direction=firestore.Query.DESCENDING)
    snaps = store.retry(lambda: list(query.limit(limit).stream()))()
    return [(d := as_dict(s)) | {"receivedAt": _iso(d.get("receivedAt"))} for s in snaps]
