"""Read models for the status page: datasets and trainings from Firestore, shaped for HTML and JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from ..document_ids import document_id_problem
from ..firestore_store import FirestoreStore, as_dict
from ..resource_names import resource_id
from .imports_view import import_view


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def map_50_95(evaluation: dict[str, Any]) -> float | None:
    """COCO's mAP@[.5:.95]: the mean of the stored per-IoU mAPs at IoU 0.50, 0.55, …, 0.95 (None unless all
    ten are there). boundingBoxMeanAveragePrecision is AutoML's mean over its 23 thresholds (0.05–0.99)."""
    by_iou = {
        round(float(c["iouThreshold"]), 2): c.get("meanAveragePrecision")
        for c in evaluation.get("curves", [])
    }
    values = [by_iou.get(round(0.5 + 0.05 * i, 2)) for i in range(10)]
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if len(known) == len(values) else None


def training_view(doc: dict[str, Any]) -> dict[str, Any]:
    evaluation = doc.get("evaluation") or {}
    return {
        "trainingId": doc.get("trainingId"),
        "dataset": doc.get("datasetId"),
        "datasetName": doc.get("datasetDisplayName"),  # the backend's display name when the training began
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
        "meanAveragePrecision50To95": map_50_95(evaluation),
        "curves": evaluation.get("curves", []),
        "promoted": doc.get("promoted"),
        "model": doc.get("model"),
        "operation": doc.get("operation"),
        "exportLocation": doc.get("exportLocation")
        or ((doc.get("exports") or {}).get("tflite") or {}).get("location"),
        "championReason": doc.get("championReason"),
        "latencyMs": doc.get("latencyMs"),
        "evaluatedImages": evaluation.get("imageCount"),
        "evaluatedBoxes": evaluation.get("evaluatedBoundingBoxCount"),
        "notification": doc.get("notification"),
        "error": doc.get("error") or doc.get("lastError"),
        "createdAt": _iso(doc.get("createdAt")),
        "updatedAt": _iso(doc.get("updatedAt")),
        "finishedAt": _iso(doc.get("finishedAt")),
    }


def model_names(store: FirestoreStore, models: list[str | None]) -> dict[str, str]:
    """Display names of trained models by resource name, from their trainings."""
    wanted = sorted({m for m in models if m})
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 30):  # Firestore's limit for "in"
        for doc in store.query("trainings", "model", "in", wanted[start : start + 30]):
            names[doc["model"]] = doc.get("displayName") or resource_id(doc["model"])
    return names


def last_imports(store: FirestoreStore, import_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The imports by id, as the imports view shows them but without their reported rows."""
    refs = [store.collection("imports").document(i) for i in sorted(set(import_ids))]
    snaps = store.get_many(refs) if refs else []
    views = (import_view(snap.id, as_dict(snap)) for snap in snaps if snap.exists)
    return {v["importId"]: {k: v[k] for k in v if k not in ("rejected", "keptSplit")} for v in views}


def list_datasets(store: FirestoreStore) -> list[dict[str, Any]]:
    """Every dataset the pipeline has imported into or been asked to train (import_records.claim_import,
    training_records.claim_training)."""
    docs = store.read_all(store.collection("datasets"))
    rows = [as_dict(s) | {"_id": s.id} for s in docs]
    names = model_names(store, [d.get("championModel") for d in rows])
    imports = last_imports(store, [d["lastImportId"] for d in rows if d.get("lastImportId")])
    return [
        {
            "datasetId": d["_id"],
            "dataset": d.get("dataset"),
            "displayName": d.get("displayName"),  # the backend's, at the dataset's latest training request
            "activeTraining": d.get("activeTraining"),
            "championModel": d.get("championModel"),
            "championName": names.get(d.get("championModel") or ""),
            "championMetric": d.get("championMetric"),
            "championValue": d.get("championValue"),
            "trainingCount": d.get("trainingCount", 0),
            "pendingRequest": bool(d.get("pendingRequest")),
            "lastImport": imports.get(d.get("lastImportId") or ""),
        }
        for d in rows
    ]


def list_trainings(
    store: FirestoreStore, page_size: int, page_token: str | None = None, dataset_id: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the page token is the id of the last training of the previous page (ValueError when it
    cannot be one)."""
    if page_token and (problem := document_id_problem(page_token)):
        raise ValueError(f"pageToken: not a token this page returned (it {problem})")
    query: Any = store.collection("trainings")
    if dataset_id:
        query = query.where(filter=FieldFilter("datasetId", "==", dataset_id))
    query = query.order_by("createdAt", direction=firestore.Query.DESCENDING)
    if page_token:
        cursor = store.call(store.collection("trainings").document(page_token).get)
        if cursor.exists:
            query = query.start_after(cursor)
    snaps = store.read_all(query.limit(page_size + 1))
    views = [training_view(as_dict(s)) for s in snaps[:page_size]]
    next_token = snaps[page_size - 1].id if len(snaps) > page_size else None
    return views, next_token


def recent_rejected(store: FirestoreStore, limit: int = 20) -> list[dict[str, Any]]:
    query = store.collection("rejected_messages").order_by("receivedAt", direction=firestore.Query.DESCENDING)
    snaps = store.read_all(query.limit(limit))
    return [(d := as_dict(s)) | {"receivedAt": _iso(d.get("receivedAt"))} for s in snaps]


def get_training(store: FirestoreStore, training_id: str) -> dict[str, Any] | None:
    if document_id_problem(training_id):  # cannot name a document, so names none
        return None
    return store.get("trainings", training_id)


def trained_models(store: FirestoreStore, limit: int = 50) -> list[dict[str, Any]]:
    """Trainings that produced a model, newest first: what "Try an image" offers."""
    query = store.collection("trainings").where(filter=FieldFilter("state", "==", "SUCCEEDED"))
    snaps = store.read_all(query)
    docs = sorted((as_dict(s) for s in snaps), key=lambda d: str(d.get("createdAt")), reverse=True)
    return [d for d in docs if d.get("model")][:limit]


def list_imports(store: FirestoreStore, limit: int = 50) -> list[dict[str, Any]]:
    """Imports newest first, each with its counts and reported rows (imports_view.py)."""
    query = store.collection("imports").order_by("createdAt", direction=firestore.Query.DESCENDING)
    snaps = store.read_all(query.limit(limit))
    return [import_view(snap.id, as_dict(snap)) for snap in snaps]
