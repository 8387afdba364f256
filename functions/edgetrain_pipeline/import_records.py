"""Firestore records of the ImportData calls the pipeline makes (imports/{importId}), with the counts the
backend gives: rows rejected and rows whose split was kept (from the operation's partial failures), and the
dataset's example count after the import (as start_training reads it for the training policy)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from google.api_core import exceptions as gexc
from google.cloud import firestore

from . import import_rows, topics
from .firestore_store import FirestoreStore, as_dict, now
from .resource_names import resource_id
from .schemas import TrainingRequest
from .training_backend import OperationView

FUNCTION = "import_dataset"
REQUEST_PREFIX = "import-"  # the requestId of the dataset-imported event: REQUEST_PREFIX + importId
_IMPORT_ID = re.compile(r"^im-[0-9a-f]{20}$")  # what import_id_for makes


def import_id_for(key: str) -> str:
    return "im-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def import_id_of(request: TrainingRequest) -> str | None:
    """The import a training request announces, if it is a dataset-imported event."""
    request_id = request.request_id or ""
    import_id = request_id[len(REQUEST_PREFIX) :]
    if request.source != "import" or not request_id.startswith(REQUEST_PREFIX):
        return None
    return import_id if _IMPORT_ID.match(import_id) else None


def claim_import(
    store: FirestoreStore, key: str, event_id: str, dataset: str, input_uris: list[str], lease_s: float
) -> dict | None:
    """Create imports/<id of key> if absent (the claim: one of any number of concurrent deliveries wins);
    None when it exists already. The winner holds a lease of lease_s to call ImportData. In the same commit
    the dataset's document names this import as its latest, so a dataset is listed from its first import
    on, whether or not the import succeeds or a training follows."""
    import_id = import_id_for(key)
    dataset_id = resource_id(dataset)
    stamp = now()
    doc = {
        "importId": import_id,
        "key": key,
        "dataset": dataset,
        "datasetId": dataset_id,
        "inputUris": input_uris,
        "state": "CREATING",
        "operation": None,
        "progressPercent": 0,
        "createLeaseUntil": stamp + timedelta(seconds=lease_s),
        "eventId": event_id,
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    batch = store.client.batch()
    batch.create(store.collection("imports").document(import_id), doc)
    batch.set(
        store.collection("datasets").document(dataset_id),
        _dataset_claim(dataset_id, dataset, import_id, stamp),
        merge=True,
    )
    try:
        store.call(batch.commit)
    except gexc.AlreadyExists:
        return None
    return doc


def _dataset_claim(dataset_id: str, dataset: str, import_id: str, stamp: datetime | None) -> dict:
    """What claim_import writes to a dataset's document."""
    return {"datasetId": dataset_id, "dataset": dataset, "lastImportId": import_id, "updatedAt": stamp}


# A dataset document with no fields but the claim's holds no training state
_CLAIM_FIELDS = set(_dataset_claim("", "", "", None))


def fail_import_of_unknown_dataset(store: FirestoreStore, record: dict, failed: dict) -> None:
    """ImportData answered NOT_FOUND: write the `failed` fields to the import's record and, in the same
    transaction, remove the dataset document its claim made, unless something else has written to it since
    (another import, a training). A typo in a dataset id then leaves a failed import on the imports page, not
    a dataset row on the overview."""
    import_ref = store.collection("imports").document(record["importId"])
    dataset_ref = store.collection("datasets").document(record["datasetId"])

    def body(txn: firestore.Transaction) -> None:
        dataset = as_dict(dataset_ref.get(transaction=txn))
        txn.update(import_ref, {**failed, "updatedAt": now()})
        if dataset.get("lastImportId") == record["importId"] and set(dataset) <= _CLAIM_FIELDS:
            txn.delete(dataset_ref)

    store.run_transaction(body)


def acquire_import_lease(store: FirestoreStore, import_id: str, lease_s: float) -> dict | None:
    """Take over a CREATING import whose ImportData call never got recorded; None if not due or not ours."""
    ref = store.collection("imports").document(import_id)

    def body(txn: firestore.Transaction) -> dict | None:
        doc = as_dict(ref.get(transaction=txn))
        if doc.get("state") != "CREATING" or (
            doc.get("createLeaseUntil") and doc["createLeaseUntil"] > now()
        ):
            return None
        fields = {"createLeaseUntil": now() + timedelta(seconds=lease_s), "updatedAt": now()}
        txn.update(ref, fields)
        return doc | fields

    return store.run_transaction(body)


def complete_import(store: FirestoreStore, import_id: str, op: OperationView) -> list[str]:
    """Record the finished import once; a successful one queues the dataset-imported event."""
    ref = store.collection("imports").document(import_id)

    def body(txn: firestore.Transaction) -> list[str]:
        snap = ref.get(transaction=txn)
        doc = as_dict(snap)
        if not doc or doc["state"] != "RUNNING":
            return []
        rejected, kept = import_rows.split_rows(op.partial_failures)
        fields = {
            "state": "SUCCEEDED" if op.succeeded else "FAILED",
            "progressPercent": 100 if op.succeeded else doc.get("progressPercent", 0),
            "error": None if op.succeeded else op.error_message,
            "partialFailures": op.partial_failures,
            "rowsRejected": len(rejected),
            "rowsKeptSplit": len(kept),
            "finishedAt": now(),
            "updatedAt": now(),
        }
        txn.update(ref, fields)
        if not op.succeeded:
            return []
        request = TrainingRequest(
            schemaVersion=1, dataset=doc["dataset"], requestId=REQUEST_PREFIX + import_id, source="import"
        )
        return [store.add_to_outbox(txn, topics.TOPIC_DATASET_IMPORTED, request.to_wire())]

    return store.run_transaction(body)


def record_example_count(store: FirestoreStore, request: TrainingRequest, example_count: int) -> None:
    """Put the dataset's example count, read when the import's dataset-imported event arrived, on the
    import's record. A request naming no import record (published by hand) records nothing."""
    import_id = import_id_of(request)
    if import_id is None:
        return
    ref = store.collection("imports").document(import_id)
    try:
        store.call(ref.update, {"exampleCountAfter": example_count, "updatedAt": now()})
    except gexc.NotFound:
        pass
