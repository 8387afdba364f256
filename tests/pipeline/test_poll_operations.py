"""poll_operations: Firestore writes only for what changed, overlapping ticks, reconciling lost calls."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline import training_records as records
from edgetrain_pipeline.envelope import PubSubEvent
from edgetrain_pipeline.schemas import TrainingRequest
from edgetrain_pipeline.usecases.poll_operations import poll_operations
from edgetrain_pipeline.usecases.start_training import start_training
from google.api_core import exceptions as gexc


def start(deps, dataset: str) -> dict:
    deps.backend.datasets[dataset] = 50
    payload = {"schemaVersion": 1, "dataset": dataset}
    start_training(deps, PubSubEvent(event_id=f"evt-{dataset}", text=json.dumps(payload), attributes={}))
    (training,) = deps.store.query("trainings", "datasetId", "==", dataset)
    return training


def claim_without_create(deps, dataset: str = "cards", key: str = "lost") -> dict:
    """A training whose function died after claiming it (CreateModel maybe called, never recorded)."""
    request = TrainingRequest(schemaVersion=1, dataset=dataset)
    claim = records.claim_training(
        deps.store, key, key, request, deps.backend.dataset_name(dataset), 100, deps.settings
    )
    deps.store.update("trainings", claim.training["trainingId"], {"createLeaseUntil": None})
    return claim.training


@pytest.mark.emulators
def test_only_trainings_whose_progress_changed_are_written(deps):
    a, b = start(deps, "a"), start(deps, "b")
    first = poll_operations(deps)
    before_b = deps.store.get("trainings", b["trainingId"])["updatedAt"]

    deps.backend.progress(a["operation"], 40)
    second = poll_operations(deps)
    third = poll_operations(deps)

    assert second.data["progressWrites"] == 1 and third.data["progressWrites"] == 0
    assert first.data["runningOperations"] == 2
    assert deps.store.get("trainings", a["trainingId"])["progressPercent"] == 40
    assert deps.store.get("trainings", b["trainingId"])["updatedAt"] == before_b


@pytest.mark.emulators
@pytest.mark.parametrize(
    ("end", "state"), [("fail", "FAILED"), ("cancel", "CANCELLED"), ("succeed", "SUCCEEDED")]
)
def test_finished_training_is_recorded_and_announced_once_by_overlapping_ticks(deps, end, state):
    training = start(deps, "cards")
    getattr(deps.backend, end)(training["operation"])

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: poll_operations(deps), range(3)))

    (finished,) = deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)
    assert finished["state"] == state and finished["trainingId"] == training["trainingId"]
    doc = deps.store.get("trainings", training["trainingId"])
    assert doc["state"] == state and deps.store.get("datasets", "cards")["activeTraining"] is None
    if state != "SUCCEEDED":
        assert doc["error"]
    else:
        assert (
            doc["model"]
            and doc["stopReason"] == "MODEL_CONVERGED"
            and doc["trainCostMilliNodeHours"] == 1_000
        )


@pytest.mark.emulators
def test_lost_create_model_is_called_again_after_the_lease(deps):
    lost = claim_without_create(deps)

    report = poll_operations(deps)

    assert report.data["reconciled"] == 1 and deps.backend.count("create_model") == 1
    doc = deps.store.get("trainings", lost["trainingId"])
    assert doc["state"] == "RUNNING" and doc["createAttempts"] == 2


@pytest.mark.emulators
def test_unrecorded_create_model_is_adopted_by_its_label_not_repeated(deps):
    lost = claim_without_create(deps)
    operation = deps.backend.create_model(
        lost["dataset"],
        lost["displayName"],
        lost["modelType"],
        lost["trainBudgetMilliNodeHours"],
        {records.TRAINING_LABEL: lost["trainingId"]},
    )
    assert poll_operations(deps).data["reconciled"] == 0  # an unrecorded CreateModel still runs: wait
    deps.backend.succeed(operation)

    poll_operations(deps)

    assert deps.backend.count("create_model") == 1
    doc = deps.store.get("trainings", lost["trainingId"])
    assert doc["state"] == "SUCCEEDED" and doc["operation"] == operation
    assert deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)[0]["trainingId"] == lost["trainingId"]


@pytest.mark.emulators
def test_training_within_its_create_lease_is_left_alone(deps):
    request = TrainingRequest(schemaVersion=1, dataset="cards")
    records.claim_training(
        deps.store, "busy", "busy", request, deps.backend.dataset_name("cards"), 100, deps.settings
    )

    assert poll_operations(deps).data["reconciled"] == 0
    assert deps.backend.count("create_model") == 0


@pytest.mark.emulators
def test_unrecorded_model_of_a_server_that_drops_labels_is_adopted_by_display_name(deps):
    lost = claim_without_create(deps)
    operation = deps.backend.create_model(
        lost["dataset"], lost["displayName"], lost["modelType"], lost["trainBudgetMilliNodeHours"], {}
    )
    deps.backend.succeed(operation)

    poll_operations(deps)

    assert deps.backend.count("create_model") == 1
    assert deps.store.get("trainings", lost["trainingId"])["state"] == "SUCCEEDED"


@pytest.mark.emulators
def test_training_whose_operation_vanished_fails_instead_of_blocking_the_tick(deps):
    gone, alive = start(deps, "gone"), start(deps, "alive")
    del deps.backend.operations[gone["operation"]]
    deps.backend.progress(alive["operation"], 10)

    poll_operations(deps)

    doc = deps.store.get("trainings", gone["trainingId"])
    assert doc["state"] == "FAILED" and "no longer exists" in doc["error"]
    assert deps.store.get("trainings", alive["trainingId"])["progressPercent"] == 10
    assert [m["trainingId"] for m in deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)] == [
        gone["trainingId"]
    ]


@pytest.mark.emulators
def test_a_lasting_error_on_one_operation_does_not_stop_the_tick_for_the_others(deps, monkeypatch):
    broken, healthy = start(deps, "broken"), start(deps, "healthy")
    deps.backend.succeed(broken["operation"])
    deps.backend.succeed(healthy["operation"])
    real_get = deps.backend.get_operation

    def get_operation(name: str):
        if name == broken["operation"]:
            raise gexc.PermissionDenied(f"caller cannot read {name}")  # every tick, not once
        return real_get(name)

    monkeypatch.setattr(deps.backend, "get_operation", get_operation)

    for _ in range(2):
        outcome = poll_operations(deps)
        assert outcome.status == "polled"
        (skipped,) = outcome.data["skipped"]
        assert broken["trainingId"] in skipped and "PermissionDenied" in skipped

    assert deps.store.get("trainings", healthy["trainingId"])["state"] == "SUCCEEDED"
    assert deps.store.get("trainings", broken["trainingId"])["state"] == "RUNNING"
    assert [m["trainingId"] for m in deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)] == [
        healthy["trainingId"]
    ]
    monkeypatch.setattr(deps.backend, "get_operation", real_get)  # the error clears: the next tick records it
    assert poll_operations(deps).data["skipped"] == []
    assert deps.store.get("trainings", broken["trainingId"])["state"] == "SUCCEEDED"


@pytest.mark.emulators
def test_the_learning_curve_the_service_writes_is_carried_into_the_training(deps, tmp_path):
    from dataclasses import replace

    deps.settings = replace(
        deps.settings,
        storage_local_root=str(tmp_path),
        training_progress_uri_prefix="gs://progress/curves/",
    )
    training = start(deps, "cards")
    curves = tmp_path / "progress" / "curves"
    curves.mkdir(parents=True)
    curve_file = curves / f"{training['operation'].rsplit('/', 1)[-1]}.json"
    point = {"stage": "head", "epoch": 1, "loss": 1.5, "valMap50": 0.2, "elapsedS": 30.0, "percent": 20.0}
    curve = {"operation": training["operation"], "startedAt": "2026-12-06T00:00:00+00:00", "points": [point]}
    curve_file.write_text(json.dumps(curve))

    poll_operations(deps)
    running = deps.store.get("trainings", training["trainingId"])

    curve_file.write_text("{not json")  # a half-read object: the tick goes on without the curve
    deps.backend.progress(training["operation"], 60)
    poll_operations(deps)
    assert deps.store.get("trainings", training["trainingId"])["progressPercent"] == 60

    curve["points"].append(point | {"epoch": 2, "valMap50": 0.3})
    curve_file.write_text(json.dumps(curve))
    deps.backend.succeed(training["operation"])
    poll_operations(deps)
    finished = deps.store.get("trainings", training["trainingId"])

    assert running["trainingCurve"] == {"startedAt": "2026-12-06T00:00:00+00:00", "points": [point]}
    assert finished["state"] == "SUCCEEDED"
    assert [p["valMap50"] for p in finished["trainingCurve"]["points"]] == [0.2, 0.3]
