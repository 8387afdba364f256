"""export_and_notify: a training finished → notify failures; champion/challenger (promotion.py, on the two
evaluations of the same TEST images when the backend compared them); ExportModel; retention.

The MODEL_EXPORTED notification goes out from the poller once every export operation is done.
"""

from __future__ import annotations

import logging
from datetime import datetime

from google.api_core import exceptions as gexc

from .. import export_records
from ..deps import Deps
from ..envelope import PubSubEvent
from ..model_evaluations import Evaluations
from ..retrying import is_retry_exhausted
from ..schemas import TrainingFinished
from .common import Outcome, flush_outbox, parse_or_none, reject, transient

FUNCTION = "export_and_notify"
_LOGGER = logging.getLogger("edgetrain_pipeline")
_DECIDED = ("REJECTED", "EXPORTED", "EXPORT_FAILED")
_FAILURE_NOTIFICATIONS = {"FAILED": "TRAINING_FAILED", "CANCELLED": "TRAINING_CANCELLED"}


def export_and_notify(deps: Deps, event: PubSubEvent) -> Outcome:
    message, problem = parse_or_none(event, TrainingFinished)
    if message is None:
        return reject(deps, FUNCTION, event, problem)
    training = deps.store.get("trainings", message.training_id)
    if training is None:
        return reject(deps, FUNCTION, event, f"training {message.training_id} is not in Firestore")
    for field in ("state", "datasetId"):
        if not isinstance(training.get(field), str):
            return reject(deps, FUNCTION, event, f"training {message.training_id} has no {field}")
    if training["state"] != message.state:
        return reject(
            deps,
            FUNCTION,
            event,
            f"training {message.training_id} is {training['state']}, not {message.state}",
        )
    if message.state in _FAILURE_NOTIFICATIONS:
        sent = flush_outbox(
            deps,
            export_records.notify_once(
                deps.store, message.training_id, _FAILURE_NOTIFICATIONS[message.state]
            ),
        )
        return Outcome("notified" if sent else "duplicate", _FAILURE_NOTIFICATIONS[message.state])
    if not training.get("model"):
        reason = "the training succeeded but AutoML reported no model"
        flush_outbox(
            deps, export_records.notify_once(deps.store, message.training_id, "TRAINING_FAILED", reason)
        )
        return Outcome("notified", reason)
    try:  # its own evaluation and, when the backend compared it with the champion, the champion's
        evaluations = deps.backend.model_evaluations(training["model"])
    except gexc.GoogleAPIError as exc:
        if is_retry_exhausted(exc):
            raise transient(FUNCTION, "ListModelEvaluations", exc) from exc
        evaluations = Evaluations({})
        _LOGGER.warning("%s: no evaluation for %s: %s", FUNCTION, training["model"], exc)
    decision = export_records.decide_champion(deps.store, message.training_id, evaluations, deps.settings)
    flush_outbox(deps, decision.outbox)
    started = start_missing_exports(deps, message.training_id) if decision.promoted else 0
    deleted = apply_retention(deps, training["datasetId"]) if decision.first_time else 0
    status = ("exporting" if decision.promoted else "rejected") if decision.first_time else "duplicate"
    return Outcome(status, decision.reason, {"exportsStarted": started, "modelsDeleted": deleted})


def start_missing_exports(deps: Deps, training_id: str) -> int:
    """Start ExportModel for every configured format the training has no operation for yet."""
    training = export_records.acquire_export_lease(deps.store, training_id, deps.settings.create_lease_s)
    if training is None:
        return 0
    exports = dict(training.get("exports") or {})
    prefix = deps.settings.export_uri_prefix.rstrip("/") + f"/{training['datasetId']}/{training_id}/"
    started = 0
    for fmt in deps.settings.export_formats:
        if fmt in exports:
            continue
        try:
            operation = deps.backend.export_model(training["model"], fmt, prefix)
            exports[fmt] = {"operation": operation, "state": "RUNNING", "progressPercent": 0}
            started += 1
        except gexc.GoogleAPIError as exc:
            if is_retry_exhausted(exc):
                deps.store.update("trainings", training_id, {"exports": exports, "exportLeaseUntil": None})
                raise transient(FUNCTION, f"ExportModel {fmt}", exc) from exc
            exports[fmt] = {"operation": None, "state": "FAILED", "error": getattr(exc, "message", str(exc))}
        deps.store.update("trainings", training_id, {"exports": exports})
    return started


def apply_retention(deps: Deps, dataset_id: str) -> int:
    """Delete decided models beyond the newest RETAIN_MODELS that are neither the champion nor exporting
    (a model still waiting for its champion/challenger decision is never a candidate, nor is one whose
    training has no creation time to rank it by)."""
    dataset = deps.store.get("datasets", dataset_id) or {}
    candidates = [
        t
        for t in deps.store.query("trainings", "datasetId", "==", dataset_id)
        if t.get("model")
        and not t.get("modelDeleted")
        and t.get("model") != dataset.get("championModel")
        and t.get("exportState") in _DECIDED
        and isinstance(t.get("createdAt"), datetime)
    ]
    candidates.sort(key=lambda t: t["createdAt"], reverse=True)
    deleted = 0
    for training in candidates[deps.settings.retain_models :]:
        try:
            deps.backend.delete_model(training["model"])
        except gexc.GoogleAPIError as exc:
            _LOGGER.warning("retention: could not delete %s: %s", training["model"], exc)
            continue
        deps.store.update("trainings", training["_id"], {"modelDeleted": True})
        deleted += 1
    return deleted
