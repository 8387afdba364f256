"""Firestore records of the ImportData calls the pipeline makes (imports/{importId})."""

from __future__ import annotations

import hashlib

from google.cloud import firestore

from . import topics
from .automl_gateway import OperationView
from .firestore_store import FirestoreStore, as_dict, now
from .schemas import TrainingRequest

FUNCTION = "import_dataset"


def import_id_for(key: str) -> str:
    return "im-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def claim_import(
    store: FirestoreStore, key: str, event_id: str, dataset: str, input_uris: list[str]
) -> dict | None:
    """Create the import document for `key`; None when this key was claimed before."""
    import_id = import_id_for(key)
    event_ref = store.event_ref(FUNCTION, key)
    ref = store.collection("imports").document(import_id)

    def body(txn: firestore.Transaction) -> dict | None:
        if event_ref.get(transaction=txn).exists:
            return None
        stamp = now()
        doc = {
            "importId": import_id,
            "dataset": dataset,
            "datasetId": dataset.rsplit("/", 1)[-1],
            "inputUris": input_uris,
            "state": "CREATING",
            "operation": None,
            "progressPercent": 0,
            "eventId": event_id,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        txn.set(ref, doc)
        txn.set(
            event_ref,
            {
                "key": key,
                "eventId": event_id,
                "outcome": "import",
                "importId": import_id,
                "receivedAt": stamp,
            },
        )
        return doc

    return store.run_transaction(body)


def unclaim_import(store: FirestoreStore, key: str, import_id: str) -> None:
    """ImportData failed transiently: forget the claim so the redelivered message tries again."""
    store.retry(store.event_ref(FUNCTION, key).delete)()
    store.retry(store.collection("imports").document(import_id).delete)()


def complete_import(store: FirestoreStore, import_id: str, op: OperationView) -> list[str]:
    """Record the finished import once; a successful one queues the dataset-imported event."""
    ref = store.collection("imports").document(import_id)

    def body(txn: firestore.Transaction) -> list[str]:
        snap = ref.get(transaction=txn)
        doc = as_dict(snap)
        if not doc or doc["state"] != "RUNNING":
            return []
        fields = {
            "state": "SUCCEEDED" if op.succeeded else "FAILED",
            "progressPercent": 100 if op.succeeded else doc.get("progressPercent", 0),
            "error": None if op.succeeded else op.error_message,
            "partialFailures": op.partial_failures,
            "finishedAt": now(),
            "updatedAt": now(),
        }
        txn.update(ref, fields)
        if not op.succeeded:
            return []
        request = TrainingRequest(
            schemaVersion=1, dataset=doc["dataset"], requestId=f"import-{import_id}", source="import"
        )
        return [store.add_to_outbox(txn, topics.TOPIC_DATASET_IMPORTED, request.to_wire())]

    return store.run_transaction(body)
