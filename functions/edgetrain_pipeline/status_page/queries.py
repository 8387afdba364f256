"""Read models for the status page: datasets and trainings from Firestore, shaped for HTML and JSON."""

from __future__ import annotations

from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from ..document_ids import document_id_problem
from ..errors import InvalidMessageException
from ..firestore_store import FirestoreStore, as_dict
from ..resource_names import resource_id
from .imports_view import import_view
from .values import finite_number, iso, listed, mapping, text


def map_50_95(evaluation: dict[str, Any]) -> float | None:
    """COCO's mAP@[.5:.95]: the mean of the stored per-IoU mAPs at IoU 0.50, 0.55, …, 0.95 (None unless all
    ten are there). boundingBoxMeanAveragePrecision is AutoML's mean over its 23 thresholds (0.05–0.99)."""
    by_iou = {}
    for curve in listed(evaluation.get("curves"), dict):
        iou = finite_number(curve.get("iouThreshold"))
        if iou is not None:
            by_iou[round(float(iou), 2)] = finite_number(curve.get("meanAveragePrecision"))
    values = [by_iou.get(round(0.5 + 0.05 * i, 2)) for i in range(10)]
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if len(known) == len(values) else None


def training_view(doc: dict[str, Any], training_id: str | None = None) -> dict[str, Any]:
    """A training document as the pages and the JSON API show it; `training_id` is its document's ID, for a
    document without the field. Fields of the wrong type read as missing."""
    evaluation = mapping(doc.get("evaluation"))
    exports = mapping(doc.get("exports"))
    tflite = mapping(exports.get("tflite"))
    training_id = text(doc.get("trainingId")) or training_id
    return {
        "trainingId": training_id,
        "dataset": text(doc.get("datasetId")),
        "datasetName": text(doc.get("datasetDisplayName")),  # the backend's display name when it began
        "displayName": text(doc.get("displayName")),
        "modelType": text(doc.get("modelType")),
        "state": text(doc.get("state")),
        "exportState": text(doc.get("exportState")),
        "progressPercent": finite_number(doc.get("progressPercent")) or 0,
        "trainBudgetMilliNodeHours": finite_number(doc.get("trainBudgetMilliNodeHours")),
        "trainCostMilliNodeHours": finite_number(doc.get("trainCostMilliNodeHours")),
        "stopReason": text(doc.get("stopReason")),
        "boundingBoxMeanAveragePrecision": finite_number(evaluation.get("boundingBoxMeanAveragePrecision")),
        "meanAveragePrecisionAt50": finite_number(evaluation.get("meanAveragePrecisionAt50")),
        "meanAveragePrecision50To95": map_50_95(evaluation),
        "curves": listed(evaluation.get("curves"), dict),
        "promoted": doc.get("promoted"),
        "model": text(doc.get("model")),
        "operation": text(doc.get("operation")),
        "exportLocation": text(doc.get("exportLocation")) or text(tflite.get("location")),
        "championReason": text(doc.get("championReason")),
        "latencyMs": finite_number(doc.get("latencyMs")),
        "evaluatedImages": finite_number(evaluation.get("imageCount")),
        "evaluatedBoxes": finite_number(evaluation.get("evaluatedBoundingBoxCount")),
        "notification": doc.get("notification"),
        "error": text(doc.get("error")) or text(doc.get("lastError")),
        "createdAt": iso(doc.get("createdAt")),
        "updatedAt": iso(doc.get("updatedAt")),
        "finishedAt": iso(doc.get("finishedAt")),
    }


def champion_names(store: FirestoreStore, datasets: list[dict[str, Any]]) -> dict[str, str]:
    """Display names of the datasets' champion models by resource name, from their trainings: read by the
    training's ID the dataset records (export_records), by model for a dataset from before it did."""
    by_training = {
        training_id: model
        for d in datasets
        if (model := text(d.get("championModel")))
        and (training_id := text(d.get("championTrainingId")))
        and not document_id_problem(training_id)
    }
    names: dict[str, str] = {}
    for snap in _get_many(store, "trainings", sorted(by_training), ["model", "displayName"]):
        doc = as_dict(snap)
        if doc.get("model") == by_training[snap.id]:
            names[doc["model"]] = text(doc.get("displayName")) or resource_id(doc["model"])
    rest = [model for d in datasets if (model := text(d.get("championModel"))) and model not in names]
    return names | _model_names(store, rest)


def _model_names(store: FirestoreStore, models: list[str]) -> dict[str, str]:
    """Display names of trained models by resource name, from the trainings that made them (those two fields
    only: a training document carries its evaluation curves, ~100 KB)."""
    wanted = sorted(set(models))
    trainings = store.collection("trainings").select(["model", "displayName"])
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 30):  # Firestore's limit for "in"
        chunk = wanted[start : start + 30]
        for snap in store.read_all(trainings.where(filter=FieldFilter("model", "in", chunk))):
            doc = as_dict(snap)
            names[doc["model"]] = text(doc.get("displayName")) or resource_id(doc["model"])
    return names


# What the overview shows of a dataset's latest import; its reported rows (up to 1,000) stay in Firestore
IMPORT_SUMMARY_FIELDS = [
    "datasetId", "state", "inputUris", "progressPercent", "error", "rowsRejected", "rowsKeptSplit",
    "exampleCountAfter", "createdAt", "finishedAt",
]  # fmt: skip


def last_imports(store: FirestoreStore, import_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The imports by id, as the imports view shows them but without their reported rows. A record without
    stored counts (running, refused, or from before they were stored) is read whole, to count its rows."""
    ids = sorted({i for i in import_ids if isinstance(i, str) and not document_id_problem(i)})
    docs = {s.id: as_dict(s) for s in _get_many(store, "imports", ids, IMPORT_SUMMARY_FIELDS) if s.exists}
    uncounted = [i for i, doc in docs.items() if "rowsRejected" not in doc]
    docs |= {s.id: as_dict(s) for s in _get_many(store, "imports", uncounted) if s.exists}
    views = (import_view(import_id, doc) for import_id, doc in docs.items())
    return {v["importId"]: {k: v[k] for k in v if k not in ("rejected", "keptSplit")} for v in views}


def _get_many(
    store: FirestoreStore, collection: str, ids: list[str], fields: list[str] | None = None
) -> list[Any]:
    refs = [store.collection(collection).document(i) for i in ids]
    return store.get_many(refs, fields) if refs else []


def list_datasets(store: FirestoreStore) -> list[dict[str, Any]]:
    """Every dataset the pipeline has imported into or been asked to train (import_records.claim_import,
    training_records.claim_training)."""
    docs = store.read_all(store.collection("datasets"))
    rows = [as_dict(s) | {"_id": s.id} for s in docs]
    names = champion_names(store, rows)
    imports = last_imports(store, [d["lastImportId"] for d in rows if d.get("lastImportId")])
    return [
        {
            "datasetId": d["_id"],
            "dataset": text(d.get("dataset")),
            # the backend's display name, at the dataset's latest training request
            "displayName": text(d.get("displayName")),
            "activeTraining": text(d.get("activeTraining")),
            "championModel": text(d.get("championModel")),
            "championName": names.get(text(d.get("championModel")) or ""),
            "championMetric": text(d.get("championMetric")),
            "championValue": finite_number(d.get("championValue")),
            "trainingCount": finite_number(d.get("trainingCount")) or 0,
            "pendingRequest": bool(d.get("pendingRequest")),
            "lastImport": imports.get(text(d.get("lastImportId")) or ""),
        }
        for d in rows
    ]


def list_trainings(
    store: FirestoreStore, page_size: int, page_token: str | None = None, dataset_id: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, a page at a time (page tokens: _newest_first)."""
    query: Any = store.collection("trainings")
    if dataset_id:
        if problem := document_id_problem(dataset_id):  # Firestore would refuse the query (a 500)
            raise InvalidMessageException(f"dataset: not a dataset ID (it {problem})")
        query = query.where(filter=FieldFilter("datasetId", "==", dataset_id))
    # with the datasetId filter this needs a composite index: infra/
    query = query.order_by("createdAt", direction=firestore.Query.DESCENDING)
    snaps, next_token = _newest_first(store, "trainings", query, page_size, page_token)
    return [training_view(as_dict(s), s.id) for s in snaps], next_token


def _newest_first(
    store: FirestoreStore, collection: str, query: Any, page_size: int, page_token: str | None
) -> tuple[list[Any], str | None]:
    """One page of `query`, ordered by createdAt newest first by its caller (where a filter and the order
    show infra's index check what they need); the page token is the ID of the last document of the previous
    page (InvalidMessageException when it is not one)."""
    if page_token:
        if problem := document_id_problem(page_token):
            raise InvalidMessageException(f"pageToken: not a token this page returned (it {problem})")
        cursor = store.call(store.collection(collection).document(page_token).get)
        if "createdAt" not in as_dict(cursor):  # missing: starting over would repeat the pages read
            raise InvalidMessageException("pageToken: not a token this page returned")
        query = query.start_after(cursor)
    snaps = store.read_all(query.limit(page_size + 1))
    return snaps[:page_size], (snaps[page_size - 1].id if len(snaps) > page_size else None)


def recent_rejected(store: FirestoreStore, limit: int = 20) -> list[dict[str, Any]]:
    query = store.collection("rejected_messages").order_by("receivedAt", direction=firestore.Query.DESCENDING)
    snaps = store.read_all(query.limit(limit))
    return [(d := as_dict(s)) | {"receivedAt": iso(d.get("receivedAt"))} for s in snaps]


def get_training(store: FirestoreStore, training_id: str) -> dict[str, Any] | None:
    if document_id_problem(training_id):  # cannot name a document, so names none
        return None
    return store.get("trainings", training_id)


TRAINED_MODEL_FIELDS = ["trainingId", "displayName", "datasetId", "model", "createdAt"]
TRAINED_MODELS_PAGE = 200


def trained_models(store: FirestoreStore, limit: int = 50) -> list[dict[str, Any]]:
    """The newest `limit` trainings that produced a model: what "Try an image" offers. The succeeded ones,
    newest first (an index in infra/), a page at a time, only the fields it shows (a year of whole training
    documents is gigabytes)."""
    query = (
        store.collection("trainings")
        .where(filter=FieldFilter("state", "==", "SUCCEEDED"))
        .select(TRAINED_MODEL_FIELDS)
        .order_by("createdAt", direction=firestore.Query.DESCENDING)
    )
    found: list[dict[str, Any]] = []
    cursor = None
    while len(found) < limit:
        snaps = store.read_all((query.start_after(cursor) if cursor else query).limit(TRAINED_MODELS_PAGE))
        docs = ((as_dict(s), s.id) for s in snaps)
        found += [d | {"trainingId": d.get("trainingId") or i} for d, i in docs if _names_a_model(d)]
        if len(snaps) < TRAINED_MODELS_PAGE:
            break
        cursor = snaps[-1]
    return found[:limit]


def _names_a_model(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("model"), str) and bool(doc["model"])


def list_imports(
    store: FirestoreStore, page_size: int, page_token: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Imports newest first, a page at a time, each with its counts and reported rows (imports_view.py)."""
    query = store.collection("imports").order_by("createdAt", direction=firestore.Query.DESCENDING)
    snaps, next_token = _newest_first(store, "imports", query, page_size, page_token)
    return [import_view(snap.id, as_dict(snap)) for snap in snaps], next_token


def get_import(store: FirestoreStore, import_id: str) -> dict[str, Any] | None:
    if document_id_problem(import_id):  # cannot name a document, so names none
        return None
    doc = store.get("imports", import_id)
    return import_view(import_id, doc) if doc else None
