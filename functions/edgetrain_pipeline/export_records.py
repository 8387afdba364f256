"""Firestore transactions for what happens after a training: champion/challenger, exports, notifications."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from google.cloud import firestore

from . import promotion, topics
from .config import Settings
from .evaluation import headline_metrics
from .firestore_store import FirestoreStore, as_dict, now
from .model_evaluations import Evaluations
from .resource_names import resource_id
from .schemas import Notification


def build_notification(training: dict[str, Any], kind: str, reason: str | None = None) -> dict[str, Any]:
    exports = training.get("exports") or {}
    return Notification.model_validate(
        {
            "notificationId": f"{training['trainingId']}:{kind}",
            "type": kind,
            "dataset": training["dataset"],
            "trainingId": training["trainingId"],
            "model": training.get("model"),
            "modelType": training.get("modelType"),
            "displayName": training.get("displayName"),
            "exportLocation": training.get("exportLocation"),
            "exportLocations": {f: e["location"] for f, e in exports.items() if e.get("location")},
            "metrics": headline_metrics(training.get("evaluation") or {}),
            "trainCostMilliNodeHours": training.get("trainCostMilliNodeHours"),
            "trainBudgetMilliNodeHours": training.get("trainBudgetMilliNodeHours"),
            "stopReason": training.get("stopReason"),
            "promoted": bool(training.get("promoted")),
            "reason": reason if reason is not None else training.get("error"),
            "decidedBy": training.get("decidedBy"),
            "labels": (training.get("comparison") or {}).get("labels") or [],
        }
    ).to_wire()


def notify_once(
    store: FirestoreStore,
    training_id: str,
    kind: str,
    reason: str | None = None,
    fields: dict[str, Any] | None = None,
) -> list[str]:
    """Queue the training's notification unless one was already sent; merge `fields` in the same write."""
    ref = store.collection("trainings").document(training_id)

    def body(txn: firestore.Transaction) -> list[str]:
        snap = ref.get(transaction=txn)
        doc = as_dict(snap)
        if not doc or doc.get("notification"):
            return []
        doc = doc | (fields or {})
        txn.update(ref, {**(fields or {}), "notification": kind, "updatedAt": now()})
        return [store.add_to_outbox(txn, topics.TOPIC_NOTIFICATIONS, build_notification(doc, kind, reason))]

    return store.run_transaction(body)


@dataclass
class ChampionDecision:
    first_time: bool
    promoted: bool
    reason: str
    outbox: list[str] = field(default_factory=list)


def promotion_rule(settings: Settings) -> promotion.Rule:
    return promotion.Rule(
        settings.champion_metric,
        settings.champion_min_improvement,
        settings.max_label_ap_drop,
        settings.max_latency_increase_ms,
    )


def _model_id(name: str | None) -> str:
    return resource_id(name or "").upper()


def _decide(
    rule: promotion.Rule, evaluations: Evaluations, dataset: dict[str, Any]
) -> tuple[promotion.Decision, dict[str, Any] | None]:
    """The decision, and the `comparison` field when the dataset had a champion (docs/pipeline.md)."""
    evaluation, champion = evaluations.evaluation, evaluations.champion
    value = evaluation.get(rule.metric)
    champion_model = dataset.get("championModel")
    if not champion_model:
        if value is None:
            return promotion.Decision(False, promotion.METRIC, f"the evaluation has no {rule.metric}"), None
        return promotion.first_model(), None
    compared = champion is not None and _model_id(evaluations.champion_model) == _model_id(champion_model)
    digest = evaluation.get("testImagesDigest")
    same_images = bool(compared and digest and champion and champion.get("testImagesDigest") == digest)
    if same_images and champion is not None:
        decision = promotion.decide(
            rule, evaluation, champion, evaluations.latency_ms, evaluations.champion_latency_ms
        )
    else:
        if champion is None:
            why = "the backend made no comparison (champion deleted, or a backend that does not compare)"
        elif not compared:
            why = f"the backend compared it with {evaluations.champion_model}, no longer the champion"
        else:
            why = "the backend's two evaluations are not of the same TEST images"
        stored = dataset.get("championValue") if dataset.get("championMetric") == rule.metric else None
        if stored is None:
            decision = promotion.Decision(
                value is not None,
                promotion.PROMOTED if value is not None else promotion.METRIC,
                f"the champion has no stored {rule.metric} to compare with ({why})",
            )
        else:
            decision = promotion.stored_value_rule(rule, value, stored, why)
    comparison = {
        "championModel": champion_model,
        "championTrainingId": dataset.get("championTrainingId"),
        "championEvaluation": champion if same_images else None,
        "championLatencyMs": evaluations.champion_latency_ms if same_images else None,
        "sameImages": same_images,
        "rule": rule.to_dict(),
        "decidedBy": decision.decided_by,
        "labels": decision.labels,
    }
    return decision, comparison


def decide_champion(
    store: FirestoreStore, training_id: str, evaluations: Evaluations, settings: Settings
) -> ChampionDecision:
    """Promote the training's model if it passes the promotion rule against the dataset champion
    (promotion.py). A rejected challenger gets its MODEL_REJECTED notification here; a promoted one moves to
    EXPORTING."""
    ref = store.collection("trainings").document(training_id)
    rule = promotion_rule(settings)

    def body(txn: firestore.Transaction) -> ChampionDecision:
        doc = as_dict(ref.get(transaction=txn))
        if not doc:
            return ChampionDecision(False, False, "training not found")
        if doc.get("exportState"):
            return ChampionDecision(False, doc.get("exportState") != "REJECTED", "already decided")
        ds_ref = store.collection("datasets").document(doc["datasetId"])
        ds = as_dict(ds_ref.get(transaction=txn))
        decision, comparison = _decide(rule, evaluations, ds)
        promoted, reason = decision.promoted, decision.reason
        stamp = now()
        fields: dict[str, Any] = {
            "evaluation": evaluations.evaluation,
            "promoted": promoted,
            "championReason": reason,
            "decidedBy": decision.decided_by,
            "updatedAt": stamp,
            "exportState": "EXPORTING" if promoted else "REJECTED",
        }
        if evaluations.latency_ms is not None:
            fields["latencyMs"] = evaluations.latency_ms
        if comparison is not None:
            fields["comparison"] = comparison
        txn.update(ref, fields)
        outbox = []
        if promoted:
            txn.set(
                ds_ref,
                {
                    "championModel": doc["model"],
                    "championTrainingId": training_id,
                    "championMetric": rule.metric,
                    "championValue": evaluations.evaluation.get(rule.metric),
                    "updatedAt": stamp,
                },
                merge=True,
            )
        else:
            txn.update(ref, {"notification": "MODEL_REJECTED"})
            outbox.append(
                store.add_to_outbox(
                    txn,
                    topics.TOPIC_NOTIFICATIONS,
                    build_notification(doc | fields, "MODEL_REJECTED", reason),
                )
            )
        return ChampionDecision(True, promoted, reason, outbox)

    return store.run_transaction(body)


def acquire_export_lease(store: FirestoreStore, training_id: str, lease_s: float) -> dict[str, Any] | None:
    """The training, if it is EXPORTING with formats not yet started and no one else is starting them."""
    ref = store.collection("trainings").document(training_id)

    def body(txn: firestore.Transaction) -> dict[str, Any] | None:
        doc = as_dict(ref.get(transaction=txn))
        if not doc or doc.get("exportState") != "EXPORTING":
            return None
        if doc.get("exportLeaseUntil") and doc["exportLeaseUntil"] > now():
            return None
        txn.update(ref, {"exportLeaseUntil": now() + timedelta(seconds=lease_s)})
        return doc

    return store.run_transaction(body)


def complete_export(store: FirestoreStore, training_id: str, exports: dict[str, Any]) -> list[str]:
    """All export operations are done: EXPORTED with MODEL_EXPORTED when the TF Lite export succeeded (a
    failed extra format is named in the reason), else EXPORT_FAILED with TRAINING_FAILED."""
    ref = store.collection("trainings").document(training_id)

    def body(txn: firestore.Transaction) -> list[str]:
        doc = as_dict(ref.get(transaction=txn))
        if not doc or doc.get("exportState") != "EXPORTING":
            return []
        failed = {f: e.get("error") for f, e in exports.items() if e.get("state") != "SUCCEEDED"}
        tflite = exports.get("tflite", {})
        tflite_ok = tflite.get("state") == "SUCCEEDED"
        fields = {
            "exports": exports,
            "exportLocation": tflite.get("location"),
            "exportLeaseUntil": None,
            "exportState": "EXPORTED" if tflite_ok else "EXPORT_FAILED",
            "updatedAt": now(),
        }
        kind = "MODEL_EXPORTED" if tflite_ok else "TRAINING_FAILED"
        reason = ("export failed: " + "; ".join(f"{f}: {e}" for f, e in failed.items())) if failed else None
        if reason:
            fields["error"] = reason
        fields["notification"] = kind
        txn.update(ref, fields)
        return [
            store.add_to_outbox(
                txn, topics.TOPIC_NOTIFICATIONS, build_notification(doc | fields, kind, reason)
            )
        ]

    return store.run_transaction(body)
