"""The Firestore adapter: every document the pipeline reads or writes, and the transactions that keep the
handlers idempotent. The collections (schema in docs/pipeline.md):

  datasets/{datasetId}     policy, activeTraining, pendingRequest, champion, lastTrainedExampleCount,
                           lastImportId
  trainings/{trainingId}   one per accepted training request: state, progress, cost, evaluation, exports…
  imports/{importId}       one per ImportData call the pipeline made
  events/start_training:{key}  idempotency claims (key = requestId or CloudEvent id), their outcome (an
                           odd key: ~ and its SHA-256)
  rejected_messages/{id}   malformed or invalid messages, with the reason (acknowledged, never retried)
  outbox/{id}              messages committed with a state change, published right after (and re-published by
                           the poller if the publisher died in between; consumers are idempotent)
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.api_core import retry as gretry
from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from .config import Settings
from .document_ids import document_id_problem
from .retrying import is_retry_exhausted, transient_retry

_NEVER_RESUME = gretry.Retry(predicate=lambda exc: False)
TRANSACTION_ATTEMPTS = 5  # then back off (retrying.py): many concurrent deliveries contend on one document
BATCH_LIMIT = 500  # Firestore's maximum writes per batch
T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


def as_dict(snapshot: Any) -> dict[str, Any]:
    """A document snapshot's fields; {} when the document does not exist."""
    return (snapshot.to_dict() or {}) if snapshot.exists else {}


_READABLE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,400}")


def _safe_id(text: str) -> str:
    """A document ID for `text`: itself when it is short and plain (Pub/Sub message IDs, request IDs), else
    "~" and its SHA-256, which no plain ID starts with: two texts never share an ID."""
    if _READABLE_ID.fullmatch(text) and document_id_problem(text) is None:
        return text
    return "~" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class FirestoreStore:
    def __init__(self, settings: Settings, client: firestore.Client | None = None):
        self._settings = settings
        self._client = client
        self._lock = threading.Lock()
        self.retry = transient_retry(settings.retry_deadline_s)

    def within(self, deadline_s: float) -> FirestoreStore:
        """This store on the same client, giving up on transient errors after deadline_s (a page someone
        waits on answers "unavailable" in seconds instead of minutes)."""
        return FirestoreStore(dataclasses.replace(self._settings, retry_deadline_s=deadline_s), self.client)

    @property
    def _one_attempt(self) -> dict[str, Any]:
        """What each client call gets: no retry of the client's own (self.retry is the only one), and at
        most the deadline."""
        return {"retry": None, "timeout": self._settings.retry_deadline_s}

    def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One Firestore call, retried on transient errors until this store's deadline. The client's own
        default retry (up to 300 s a call, nested inside ours) is off, so the deadline is the only one."""
        return self.retry(method)(*args, **self._one_attempt, **kwargs)

    def read_all(self, query: Any) -> list[Any]:
        """The snapshots of a query or collection, its stream read whole in each attempt. A stream that fails
        part way asks its `retry` whether to resume, so it gets one that never does (None would raise
        AttributeError in the client) and the error reaches self.retry."""
        attempt = self._one_attempt | {"retry": _NEVER_RESUME}
        return self.retry(lambda: list(query.stream(**attempt)))()

    def get_many(self, refs: list[firestore.DocumentReference], fields: list[str] | None = None) -> list[Any]:
        """The snapshots of these documents (missing ones too), in one batched read; only `fields` of each
        when given."""
        return self.retry(lambda: list(self.client.get_all(refs, field_paths=fields, **self._one_attempt)))()

    @property
    def client(self) -> firestore.Client:
        """Created on first use, once per process; honours FIRESTORE_EMULATOR_HOST."""
        with self._lock:
            if self._client is None:
                self._client = firestore.Client(project=self._settings.project)
            return self._client

    def collection(self, name: str) -> firestore.CollectionReference:
        return self.client.collection(name)

    def run_transaction(self, body: Callable[[firestore.Transaction], Any]) -> Any:
        """Run body in a transaction; contention (Aborted, also once the client's own attempts are used up)
        and other transient errors are retried with jittered backoff until the retry deadline."""

        def attempt() -> Any:
            try:
                return firestore.transactional(body)(
                    self.client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
                )
            except ValueError as exc:
                # The client's own ValueErrors hide the API error behind them: "Failed to commit transaction
                # in N attempts" (from the last Aborted), or "no transaction ID, so it cannot be rolled back"
                # (while handling the RetryError of a BeginTransaction that could not reach Firestore)
                hidden = exc.__cause__ or exc.__context__
                if hidden is not None and is_retry_exhausted(hidden):
                    raise hidden from exc
                raise

        return self.retry(attempt)()

    # ---- plain reads and writes

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        snap = self.call(self.collection(collection).document(doc_id).get)
        return as_dict(snap) or None

    def update(self, collection: str, doc_id: str, fields: dict[str, Any]) -> None:
        fields = {**fields, "updatedAt": now()}
        self.call(self.collection(collection).document(doc_id).set, fields, merge=True)

    def query(self, collection: str, field: str, op: str, value: Any) -> list[dict[str, Any]]:
        snaps = self.read_all(self.collection(collection).where(filter=FieldFilter(field, op, value)))
        return [as_dict(s) | {"_id": s.id} for s in snaps]

    def write_many(self, collection: str, changes: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Merge each (doc_id, fields) in batches of BATCH_LIMIT; returns the number of documents written."""
        changes = list(changes)
        stamp = now()
        for start in range(0, len(changes), BATCH_LIMIT):
            batch = self.client.batch()
            for doc_id, fields in changes[start : start + BATCH_LIMIT]:
                batch.set(
                    self.collection(collection).document(doc_id), {**fields, "updatedAt": stamp}, merge=True
                )
            self.call(batch.commit)
        return len(changes)

    # ---- rejected messages and idempotency claims

    def record_rejected(self, function: str, event_id: str, reason: str, excerpt: str) -> None:
        doc = {
            "function": function,
            "eventId": event_id,
            "reason": reason,
            "payload": excerpt,
            "receivedAt": now(),
        }
        self.call(self.collection("rejected_messages").document(_safe_id(f"{function}:{event_id}")).set, doc)

    def event_ref(self, function: str, key: str) -> firestore.DocumentReference:
        return self.collection("events").document(_safe_id(f"{function}:{key}"))

    def get_event(self, function: str, key: str) -> dict[str, Any] | None:
        snap = self.call(self.event_ref(function, key).get)
        return as_dict(snap) or None

    # ---- outbox: messages committed atomically with a state change

    def add_to_outbox(self, txn: firestore.Transaction, topic: str, message: dict[str, Any]) -> str:
        outbox_id = uuid.uuid4().hex
        txn.set(
            self.collection("outbox").document(outbox_id),
            {"topic": topic, "message": message, "createdAt": now()},
        )
        return outbox_id

    def outbox_entry(self, outbox_id: str) -> dict[str, Any] | None:
        return self.get("outbox", outbox_id)

    def delete_outbox(self, outbox_id: str) -> None:
        self.call(self.collection("outbox").document(outbox_id).delete)

    def stale_outbox(self, older_than_s: float) -> list[str]:
        cutoff = now() - timedelta(seconds=older_than_s)
        return [d["_id"] for d in self.query("outbox", "createdAt", "<", cutoff)]
