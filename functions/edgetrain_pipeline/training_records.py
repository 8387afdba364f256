"""Firestore transactions over trainings/ and datasets/: each one is a state transition that happens once,
however many deliveries or overlapping poll ticks race for it.

Training states: CREATING (claimed, CreateModel not yet recorded) → RUNNING → SUCCEEDED | FAILED | CANCELLED.
Export states (SUCCEEDED only): EXPORTING → EXPORTED | EXPORT_FAILED, or REJECTED (not promoted).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from . import policy, topics
from .config import Settings
from .document_ids import document_id_problem
from .firestore_store import FirestoreStore, as_dict, now
from .resource_names import resource_id
from .schemas import TrainingFinished, TrainingRequest

FUNCTION = "start_training"
TRAINING_LABEL = "edgetrain-training"  # AutoML model label that ties a model to its training document
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
_LOGGER = logging.getLogger("edgetrain_pipeline")
_OUTCOMES = {"create": "created", "coalesce": "coalesced", "skip": "skipped", "reject": "rejected"}


def training_id_for(key: str) -> str:
    return "tr-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


@dataclass
class Claim:
    outcome: str  # created, duplicate, coalesced, skipped
    reason: str
    training: dict[str, Any] | None = None
    outbox: list[str] = field(default_factory=list)


def claim_training(
    store: FirestoreStore,
    key: str,
    event_id: str,
    request: TrainingRequest,
    dataset: str,
    example_count: int | None,
    settings: Settings,
    dataset_display_name: str = "",
) -> Claim:
    """Claim `key` for this request, then apply the dataset's policy in a transaction.

    The claim is a create-if-absent of events/start_training:<key>: of any number of concurrent deliveries
    exactly one creates it, without the lock contention a transaction over one document would see. Only
    that one runs the policy transaction. A delivery that finds a claim still without outcome gets
    "in_progress" (its caller asks Pub/Sub to redeliver), or takes the claim over once it is older than
    CREATE_LEASE_S (its holder died).
    """
    dataset_id = resource_id(dataset)
    event_ref = store.event_ref(FUNCTION, key)
    stamp = now()
    try:
        store.call(event_ref.create, {"key": key, "eventId": event_id, "outcome": None, "claimedAt": stamp})
    except gexc.AlreadyExists:
        existing = as_dict(store.call(event_ref.get))
        if existing.get("outcome"):
            return Claim("duplicate", "already handled", {"trainingId": existing.get("trainingId")})
        claimed_at = existing.get("claimedAt")
        # a claim without a time (an odd document) is nobody's: take it over
        lease = timedelta(seconds=settings.create_lease_s)
        if isinstance(claimed_at, datetime) and claimed_at + lease > stamp:
            return Claim("in_progress", f"another delivery of {key} is being handled")
    dataset_ref = store.collection("datasets").document(dataset_id)
    training_id = training_id_for(f"{FUNCTION}:{key}")

    def body(txn: firestore.Transaction) -> Claim:
        event = as_dict(event_ref.get(transaction=txn))
        if event.get("outcome"):  # a takeover raced with the original holder, which finished first
            return Claim("duplicate", "already handled", {"trainingId": event.get("trainingId")})
        ds_snap = dataset_ref.get(transaction=txn)
        ds = as_dict(ds_snap)
        active_state = None
        active_id = ds.get("activeTraining")
        if isinstance(active_id, str) and document_id_problem(active_id) is None:  # else: names none
            active = store.collection("trainings").document(active_id).get(transaction=txn)
            active_state = active.get("state") if active.exists else None
        try:
            decision = policy.decide(request, dataset_id, ds, active_state, example_count, settings)
        except policy.InvalidPolicyError as exc:
            reason = f"{exc}; fix it, then ask for a training again"
            decision = policy.Decision("reject", reason)
        stamp = now()
        claim_doc = {
            "key": key,
            "eventId": event_id,
            "outcome": decision.action,
            "reason": decision.reason,
            "dataset": dataset,
            "claimedAt": claimed if isinstance(claimed := event.get("claimedAt"), datetime) else stamp,
            "receivedAt": stamp,
            "trainingId": None,
        }
        ds_fields: dict[str, Any] = {"datasetId": dataset_id, "dataset": dataset, "updatedAt": stamp}
        if dataset_display_name:  # as the backend reported it now: a renamed dataset shows its new name
            ds_fields["displayName"] = dataset_display_name
        if decision.action == "coalesce":
            ds_fields["pendingRequest"] = request.to_wire()
            claim_doc["trainingId"] = ds.get("activeTraining")
        training = None
        if decision.action == "create":
            training = {
                "trainingId": training_id,
                "dataset": dataset,
                "datasetId": dataset_id,
                "datasetDisplayName": dataset_display_name or None,
                "displayName": request.display_name or "edgetrain_" + stamp.strftime("%Y%m%d_%H%M%S"),
                "modelType": decision.model_type,
                "trainBudgetMilliNodeHours": decision.budget,
                "requestId": request.request_id,
                "eventId": event_id,
                "source": request.source,
                "state": "CREATING",
                "operation": None,
                "model": None,
                "progressPercent": 0,
                "createAttempts": 1,
                "createLeaseUntil": stamp + timedelta(seconds=settings.create_lease_s),
                "exampleCount": example_count,
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            txn.set(store.collection("trainings").document(training_id), training)
            claim_doc["trainingId"] = training_id
            ds_fields |= {
                "activeTraining": training_id,
                "lastTrainedExampleCount": example_count or 0,
                "trainingCount": firestore.Increment(1),
            }
        txn.set(dataset_ref, ds_fields, merge=True)
        txn.set(event_ref, claim_doc)
        return Claim(_OUTCOMES[decision.action], decision.reason, training)

    return store.run_transaction(body)


def acquire_create_lease(store: FirestoreStore, training_id: str, lease_s: float) -> dict[str, Any] | None:
    """Take over a CREATING training whose previous CreateModel attempt's lease ran out; None if not ours."""
    ref = store.collection("trainings").document(training_id)

    def body(txn: firestore.Transaction) -> dict[str, Any] | None:
        snap = ref.get(transaction=txn)
        doc = as_dict(snap)
        if not doc or doc["state"] != "CREATING" or doc.get("operation"):
            return None
        if doc.get("createLeaseUntil") and doc["createLeaseUntil"] > now():
            return None
        fields = {
            "createLeaseUntil": now() + timedelta(seconds=lease_s),
            "createAttempts": doc.get("createAttempts", 0) + 1,
        }
        txn.update(ref, fields)
        return doc | fields

    return store.run_transaction(body)


def record_operation(
    store: FirestoreStore, training_id: str, operation: str, base_model: str | None = None
) -> None:
    """base_model: the model the training warm-starts from (None: the backend's own starting point)."""
    fields = {"state": "RUNNING", "operation": operation, "createLeaseUntil": None, "lastError": None}
    store.update("trainings", training_id, {**fields, "baseModel": base_model})


def release_lease(store: FirestoreStore, training_id: str, error: str) -> None:
    """A CreateModel attempt failed transiently: let the next delivery or poll tick try again at once."""
    store.update("trainings", training_id, {"createLeaseUntil": now(), "lastError": error})


def finish_training(store: FirestoreStore, training_id: str, state: str, fields: dict[str, Any]) -> list[str]:
    """Move an active training to a terminal state once; queue its training-finished event and the dataset's
    coalesced request, if any. Returns the outbox ids to publish (none if another caller got there first)."""
    ref = store.collection("trainings").document(training_id)

    def body(txn: firestore.Transaction) -> list[str]:
        snap = ref.get(transaction=txn)
        doc = as_dict(snap)
        if not doc or doc["state"] in TERMINAL_STATES:
            return []
        ds_ref = store.collection("datasets").document(doc["datasetId"])
        ds_snap = ds_ref.get(transaction=txn)
        ds = as_dict(ds_snap)
        stamp = now()
        txn.update(
            ref, {**fields, "state": state, "createLeaseUntil": None, "finishedAt": stamp, "updatedAt": stamp}
        )
        outbox = [
            store.add_to_outbox(
                txn,
                topics.TOPIC_TRAINING_FINISHED,
                TrainingFinished.model_validate(
                    {
                        "schemaVersion": 1,
                        "trainingId": training_id,
                        "dataset": doc["dataset"],
                        "state": state,
                        "model": fields.get("model"),
                    }
                ).to_wire(),
            )
        ]
        if ds.get("activeTraining") == training_id:
            ds_fields: dict[str, Any] = {"activeTraining": None, "updatedAt": stamp}
            pending = ds.get("pendingRequest")
            if pending:
                ds_fields["pendingRequest"] = None
                if isinstance(pending, dict):
                    follow_up = {**pending, "requestId": f"coalesced-{training_id}", "source": "coalesced"}
                    outbox.append(store.add_to_outbox(txn, topics.TOPIC_DATASET_IMPORTED, follow_up))
                else:
                    _LOGGER.warning(
                        "datasets/%s: pendingRequest %r is no request; dropped", ds_ref.id, pending
                    )
            txn.update(ds_ref, ds_fields)
        return outbox

    return store.run_transaction(body)
