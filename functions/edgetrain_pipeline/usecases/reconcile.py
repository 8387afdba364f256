"""Reconcile trainings whose CreateModel may have happened without being recorded.

A training stays CREATING when the function died (or timed out) between claiming it and recording its
CreateModel operation (with Vertex AI: its training pipeline). Once its lease has run out the poller looks
for the model by its label (edgetrain-training=<trainingId>, else by display name and creation time) and
adopts it; while the backend runs trainings that no training document knows, it waits (one of them may be
ours: a running training does not name its model yet); otherwise it calls CreateModel again under a fresh
lease.
"""

from __future__ import annotations

import logging
from datetime import datetime

from .. import training_records as records
from ..deps import Deps
from ..errors import TransientFailureException
from ..firestore_store import now
from ..training_backend import TRAINING, OperationView
from .common import flush_outbox
from .start_training import launch

_LOGGER = logging.getLogger("edgetrain_pipeline")


def _adopt(deps: Deps, training: dict, model_name: str) -> bool:
    """Attach an existing model (and its operation when AutoML still lists one) to the training."""
    ops = [op for op in deps.backend.list_operations(f"worksOn={model_name}") if op.kind == TRAINING]
    if ops and not ops[0].done:
        records.record_operation(deps.store, training["_id"], ops[0].name)
        return True
    model = deps.backend.get_model(model_name)
    fields = {
        "model": model.name,
        "progressPercent": 100,
        "trainCostMilliNodeHours": model.cost_milli_node_hours,
        "stopReason": model.stop_reason,
        "operation": ops[0].name if ops else None,
    }
    flush_outbox(deps, records.finish_training(deps.store, training["_id"], "SUCCEEDED", fields))
    return True


def _models_of(deps: Deps, training: dict) -> list:
    """Models of the training's dataset made for it: by label, else (for servers that drop labels) by display
    name, created after the training was claimed and not already attached to another training."""
    models = deps.backend.list_models(training["dataset"])
    labelled = [m for m in models if m.labels.get(records.TRAINING_LABEL) == training["_id"]]
    if labelled:
        return labelled
    return [
        m
        for m in models
        if records.TRAINING_LABEL not in m.labels
        and m.display_name == training["displayName"]
        and m.create_time is not None
        and datetime.fromisoformat(m.create_time) >= training["createdAt"]
        and not deps.store.query("trainings", "model", "==", m.name)
    ]


def reconcile_unrecorded(
    deps: Deps, stale: list[dict], running: dict[str, OperationView], recorded: set[str]
) -> int:
    """Handle CREATING trainings whose lease expired; the number adopted or relaunched."""
    orphans = [op for op in running.values() if op.kind == TRAINING and op.name not in recorded]
    handled = 0
    for training in stale:
        lease = training.get("createLeaseUntil")
        if lease is not None and lease > now():
            continue  # its creator may still be calling CreateModel
        labelled = _models_of(deps, training)
        if labelled:
            handled += _adopt(deps, training, labelled[0].name)
            continue
        if orphans:
            _LOGGER.info(
                "reconcile: %s waits; %d unrecorded CreateModel operations still run",
                training["_id"],
                len(orphans),
            )
            continue
        claimed = records.acquire_create_lease(deps.store, training["_id"], deps.settings.create_lease_s)
        if claimed is None:
            continue
        try:
            launch(deps, claimed)
            handled += 1
        except TransientFailureException as exc:
            _LOGGER.warning("reconcile: CreateModel for %s failed again: %s", training["_id"], exc)
    return handled
