"""poll_operations: one scheduler tick. Lists AutoML's unfinished operations once, then brings every active
training, export and import in Firestore up to date — writing only documents whose fields changed — and
moves finished ones on (training-finished event, notification, dataset-imported event).

Two overlapping ticks are safe: every state change is a transaction that happens once (records modules).
One training, export or import whose operation or record keeps failing is logged and skipped, and the
others are still brought up to date: the tick is not aborted for every document by one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from google.api_core import exceptions as gexc

from .. import export_records, import_records, storage_reader
from .. import training_records as records
from ..deps import Deps
from ..envelope import PubSubEvent
from ..errors import TransientFailureException
from ..firestore_store import now
from ..training_backend import OperationView
from .common import Outcome, bounded, flush_outbox
from .exports import start_missing_exports
from .import_dataset import launch_import
from .reconcile import reconcile_unrecorded

NOT_FOUND = 5  # google.rpc.Code
_LOGGER = logging.getLogger("edgetrain_pipeline")
OUTBOX_GRACE_S = 30.0  # outbox entries younger than this are probably being published by their writer


class _Skipped(list):
    """The items of one tick that failed; each is logged with its traceback and tried again next tick."""

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # one bad operation or document must not stop the tick for the others
            _LOGGER.exception("poll: %s skipped this tick", what)
            self.append(bounded(f"{what}: {type(exc).__name__}: {exc}", 300))


def _changed(doc: dict[str, Any], fields: dict[str, Any]) -> bool:
    return any(doc.get(key) != value for key, value in fields.items())


class _Operations:
    """Unfinished operations from one list call; finished ones fetched one by one, at most once."""

    def __init__(self, deps: Deps):
        self._deps = deps
        self.running = {op.name: op for op in deps.backend.list_operations("done=false")}
        self._fetched: dict[str, OperationView] = {}

    def get(self, name: str) -> OperationView:
        if name in self.running:
            return self.running[name]
        if name not in self._fetched:
            try:
                self._fetched[name] = self._deps.backend.get_operation(name)
            except gexc.NotFound:  # purged or deleted: it can never report an outcome now
                self._fetched[name] = OperationView(
                    name=name,
                    done=True,
                    kind="",
                    progress_percent=0,
                    error_code=NOT_FOUND,
                    error_message=f"operation {name} no longer exists in AutoML",
                )
        return self._fetched[name]


def _terminal_fields(deps: Deps, op: OperationView) -> tuple[str, dict[str, Any]]:
    if op.succeeded:
        model = op.model
        fields: dict[str, Any] = {"progressPercent": 100, "error": None}
        if model is not None:
            fields |= {
                "model": model.name,
                "trainCostMilliNodeHours": model.cost_milli_node_hours,
                "stopReason": model.stop_reason,
            }
        return "SUCCEEDED", fields
    state = "CANCELLED" if op.cancelled else "FAILED"
    return state, {"error": op.error_message or f"operation ended with code {op.error_code}"}


def _training_curve(deps: Deps, operation: str) -> dict[str, Any] | None:
    """The learning curve the service writes for a running training (its --progress-uri-prefix), if any.
    A missing or unreadable one is no reason to hold back the training's other fields."""
    prefix = deps.settings.training_progress_uri_prefix
    if not prefix:
        return None
    uri = f"{prefix.rstrip('/')}/{operation.rsplit('/', 1)[-1]}.json"
    try:
        raw = storage_reader.reader_for(deps.settings).read(uri)
        curve = json.loads(raw) if raw is not None else None
    except storage_reader.READ_ERRORS as exc:
        _LOGGER.warning("poll: training curve %s unreadable: %s", uri, exc)
        return None
    if not isinstance(curve, dict):
        return None
    curve.pop("operation", None)
    return curve


def _poll_trainings(deps: Deps, ops: _Operations, skipped: _Skipped) -> tuple[int, list[str], list[dict]]:
    trainings = deps.store.query("trainings", "state", "in", list(records.policy.ACTIVE_STATES))
    changes, outbox, stale = [], [], []
    for training in trainings:
        if training["state"] == "CREATING" or not training.get("operation"):
            stale.append(training)
            continue
        with skipped.guard(f"training {training['_id']}"):
            op = ops.get(training["operation"])
            if not op.done:
                fields = {"progressPercent": op.progress_percent, "partialFailures": op.partial_failures}
                curve = _training_curve(deps, training["operation"])
                if curve is not None:
                    fields["trainingCurve"] = curve
                if _changed(training, fields):
                    changes.append((training["_id"], fields))
                continue
            state, fields = _terminal_fields(deps, op)
            curve = _training_curve(deps, training["operation"])
            if curve is not None:
                fields["trainingCurve"] = curve
            outbox += records.finish_training(deps.store, training["_id"], state, fields)
    return deps.store.write_many("trainings", changes), outbox, stale


def _poll_exports(deps: Deps, ops: _Operations, skipped: _Skipped) -> tuple[int, list[str]]:
    writes, outbox = 0, list[str]()
    for training in deps.store.query("trainings", "exportState", "==", "EXPORTING"):
        with skipped.guard(f"exports of training {training['_id']}"):
            written, more = _poll_export(deps, ops, training)
            writes, outbox = writes + written, outbox + more
    return writes, outbox


def _poll_export(deps: Deps, ops: _Operations, training: dict[str, Any]) -> tuple[int, list[str]]:
    """One training's exports: (documents written, outbox ids)."""
    exports = dict(training.get("exports") or {})
    if set(exports) != set(deps.settings.export_formats):
        start_missing_exports(deps, training["_id"])
        return 0, []
    updated = {}
    for fmt, export in exports.items():
        if export.get("state") != "RUNNING":
            updated[fmt] = export
            continue
        op = ops.get(export["operation"])
        if not op.done:
            updated[fmt] = export | {"progressPercent": op.progress_percent}
        elif op.succeeded:
            updated[fmt] = export | {
                "state": "SUCCEEDED",
                "location": op.export_directory,
                "progressPercent": 100,
            }
        else:
            updated[fmt] = export | {
                "state": "FAILED",
                "error": op.error_message or f"code {op.error_code}",
            }
    if all(e.get("state") != "RUNNING" for e in updated.values()):
        return 0, export_records.complete_export(deps.store, training["_id"], updated)
    if updated != exports:
        return deps.store.write_many("trainings", [(training["_id"], {"exports": updated})]), []
    return 0, []


def _poll_imports(deps: Deps, ops: _Operations, skipped: _Skipped) -> tuple[int, list[str]]:
    changes, outbox = [], []
    for imp in deps.store.query("imports", "state", "in", ["CREATING", "RUNNING"]):
        with skipped.guard(f"import {imp['_id']}"):
            if imp["state"] == "CREATING":
                _retry_unrecorded_import(deps, imp["_id"])
                continue
            op = ops.get(imp["operation"])
            if op.done:
                outbox += import_records.complete_import(deps.store, imp["_id"], op)
            elif _changed(imp, {"progressPercent": op.progress_percent}):
                changes.append((imp["_id"], {"progressPercent": op.progress_percent}))
    return deps.store.write_many("imports", changes), outbox


def _retry_unrecorded_import(deps: Deps, import_id: str) -> None:
    """ImportData for an import whose caller died or failed transiently, once its lease has run out (should
    the lost call have reached AutoML after all, importing the same CSV twice beats losing new data)."""
    record = import_records.acquire_import_lease(deps.store, import_id, deps.settings.create_lease_s)
    if record is None:
        return
    try:
        launch_import(deps, record)
    except TransientFailureException as exc:
        _LOGGER.warning("poll: ImportData for %s failed again: %s", import_id, exc)


def _recorded(deps: Deps) -> set[str]:
    """Operations some document already points at (so not orphans of a lost CreateModel response)."""
    running = deps.store.query("trainings", "state", "==", "RUNNING")
    return {t["operation"] for t in running if isinstance(t.get("operation"), str)}


def poll_operations(deps: Deps, tick: PubSubEvent | None = None) -> Outcome:
    """One tick; a tick older than POLL_MAX_AGE_S is acknowledged without work (the next one is due)."""
    started = now()
    if tick is not None and tick.published_at is not None:
        age = (started - tick.published_at).total_seconds()
        if age > deps.settings.poll_max_age_s:
            return Outcome("stale", f"tick {tick.event_id} is {age:.0f} s old")
    ops, skipped = _Operations(deps), _Skipped()
    training_writes, outbox, stale = _poll_trainings(deps, ops, skipped)
    export_writes, export_outbox = _poll_exports(deps, ops, skipped)
    import_writes, import_outbox = _poll_imports(deps, ops, skipped)
    reconciled = reconcile_unrecorded(deps, stale, ops.running, _recorded(deps)) if stale else 0
    published = flush_outbox(deps, outbox + export_outbox + import_outbox)
    published += flush_outbox(deps, deps.store.stale_outbox(OUTBOX_GRACE_S))
    data = {
        "runningOperations": len(ops.running),
        "progressWrites": training_writes + export_writes + import_writes,
        "published": published,
        "reconciled": reconciled,
        "skipped": list(skipped),
        "seconds": (now() - started).total_seconds(),
    }
    return Outcome("polled", f"{data}", data)
