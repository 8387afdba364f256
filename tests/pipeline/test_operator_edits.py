"""Documents an operator edited by hand (or an older pipeline wrote): each is answered, never a function that
raises on every delivery or a training stuck RUNNING. Found by probing the functions with odd documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from edgetrain_pipeline import topics
from google.cloud import firestore

from .apps import cloudevent_client
from .events import post, pubsub_event

MANUAL = {"schemaVersion": 1, "dataset": "cards", "source": "manual"}


def put(deps, collection: str, doc_id: str, doc: dict) -> None:
    deps.store.collection(collection).document(doc_id).set(doc)


def start_training(deps, request=MANUAL) -> tuple[int, dict]:
    event = pubsub_event(request)
    status = post(cloudevent_client("start_training"), event).status_code
    return status, event


def tick() -> int:
    return post(cloudevent_client("poll_operations"), pubsub_event({})).status_code


def running_training(deps) -> dict:
    assert start_training(deps)[0] == 200
    (training,) = deps.store.query("trainings", "state", "==", "RUNNING")
    return training


@pytest.mark.emulators
@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ("fast", "datasets/cards.policy: must be a map"),
        ({"trainBudgetMilliNodeHours": "lots"}, "datasets/cards.policy.trainBudgetMilliNodeHours"),
        ({"trainBudgetMilliNodeHours": 10**12}, "datasets/cards.policy.trainBudgetMilliNodeHours"),
        ({"minNewExamples": "x"}, "datasets/cards.policy.minNewExamples"),
        ({"modelType": "cloud-high-accuracy-1"}, "datasets/cards.policy.modelType"),
        ({"budget": 5000}, "datasets/cards.policy.budget"),  # a misspelt key is not silently ignored
        ({"train_budget_milli_node_hours": 5000}, "datasets/cards.policy.train_budget_milli_node_hours"),
        (
            {"minNewExamples": -1, "modelType": "x"},
            "datasets/cards.policy.modelType: 'x' is not an edge object-detection model type",
        ),
        ({"minNewExamples": -1, "modelType": "x"}, "; datasets/cards.policy.minNewExamples: "),
    ],
    ids=[
        "text",
        "budget text",
        "budget huge",
        "min text",
        "model type",
        "unknown key",
        "snake",
        "two",
        "both",
    ],
)
def test_a_policy_an_operator_got_wrong_is_a_recorded_rejection_naming_the_field(deps, policy, reason):
    deps.store.update("datasets", "cards", {"policy": policy})

    status, event = start_training(deps)

    assert status == 200
    assert reason in deps.store.get("rejected_messages", f"start_training:{event['id']}")["reason"]
    assert deps.backend.count("create_model") == 0
    assert post(cloudevent_client("start_training"), event).status_code == 200  # a redelivery: answered
    assert deps.backend.count("create_model") == 0


@pytest.mark.emulators
def test_a_valid_policy_still_applies(deps):
    policy = {"modelType": "mobile-low-latency-1", "trainBudgetMilliNodeHours": 3000, "minNewExamples": 0}
    deps.store.update("datasets", "cards", {"policy": policy})

    running_training(deps)

    (call,) = [c for c in deps.backend.calls if c[0] == "create_model"]
    assert call[3:5] == ("mobile-low-latency-1", 3000)


@pytest.mark.emulators
@pytest.mark.parametrize("active", [5, "a/b", "__x__"])
def test_an_active_training_that_names_no_document_does_not_block_the_dataset(deps, active):
    deps.store.update("datasets", "cards", {"activeTraining": active})

    training = running_training(deps)

    assert deps.store.get("datasets", "cards")["activeTraining"] == training["trainingId"]


@pytest.mark.emulators
def test_a_claim_whose_time_is_not_a_timestamp_is_taken_over(deps):
    put(deps, "events", "start_training:r-odd", {"key": "r-odd", "outcome": None, "claimedAt": "yesterday"})

    status, _ = start_training(deps, MANUAL | {"requestId": "r-odd"})

    assert status == 200 and deps.backend.count("create_model") == 1


@pytest.mark.emulators
def test_a_pending_request_that_is_not_a_map_does_not_keep_the_training_running(deps):
    training = running_training(deps)
    deps.store.update("datasets", "cards", {"pendingRequest": "please train again"})
    deps.backend.fail(training["operation"])

    assert tick() == 200

    assert deps.store.get("trainings", training["trainingId"])["state"] == "FAILED"
    dataset = deps.store.get("datasets", "cards")
    assert dataset["activeTraining"] is None and dataset["pendingRequest"] is None
    assert deps.publisher.on(topics.TOPIC_DATASET_IMPORTED) == []


@pytest.mark.emulators
def test_a_running_training_whose_operation_is_not_a_name_leaves_the_tick_working(deps):
    put(
        deps,
        "trainings",
        "tr-odd",
        {"state": "RUNNING", "operation": ["x"], "datasetId": "cards", "createdAt": datetime.now(UTC)},
    )
    deps.backend.fail_next["create_model"] = ConnectionError("CreateModel lost")  # leaves one CREATING
    assert start_training(deps)[0] == 500
    (creating,) = deps.store.query("trainings", "state", "==", "CREATING")
    deps.store.update("trainings", creating["trainingId"], {"createLeaseUntil": datetime.now(UTC)})

    assert tick() == 200


@pytest.mark.emulators
def test_an_outbox_entry_without_topic_is_left_for_an_operator_and_the_rest_go_out(deps):
    old = datetime.now(UTC) - timedelta(hours=1)
    put(deps, "outbox", "o1", {"createdAt": old})
    put(deps, "outbox", "o2", {"topic": topics.TOPIC_NOTIFICATIONS, "message": {"a": 1}, "createdAt": old})

    assert tick() == 200

    assert deps.publisher.on(topics.TOPIC_NOTIFICATIONS) == [{"a": 1}]
    assert deps.store.get("outbox", "o1") is not None and deps.store.get("outbox", "o2") is None
    assert tick() == 200


@pytest.mark.emulators
@pytest.mark.parametrize("missing", ["state", "datasetId"])
def test_a_finished_training_without_state_or_dataset_is_a_recorded_rejection(deps, missing):
    training = running_training(deps)
    deps.backend.succeed(training["operation"], map_value=0.6)
    assert tick() == 200
    (finished,) = deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)
    deps.store.collection("trainings").document(training["trainingId"]).update(
        {missing: firestore.DELETE_FIELD}
    )
    event = pubsub_event(finished)

    assert post(cloudevent_client("export_and_notify"), event).status_code == 200

    reason = deps.store.get("rejected_messages", f"export_and_notify:{event['id']}")["reason"]
    assert f"training {training['trainingId']} has no {missing}" in reason
    assert deps.backend.count("export_model") == 0


@pytest.mark.emulators
@pytest.mark.parametrize("created", [None, "2020-01-01"], ids=["missing", "text"])
def test_retention_keeps_a_model_it_cannot_date_and_still_runs(deps, created):
    """RETAIN_MODELS is 1 in the tests: of decided, unpromoted models only the newest dated one is kept."""
    old = {"state": "SUCCEEDED", "datasetId": "cards", "exportState": "REJECTED"}
    put(deps, "trainings", "tr-undated", old | {"model": "m/undated", "createdAt": created})
    if created is None:
        deps.store.collection("trainings").document("tr-undated").update(
            {"createdAt": firestore.DELETE_FIELD}
        )
    for year in (2021, 2022):
        dated = old | {"model": f"m/{year}", "createdAt": datetime(year, 1, 1, tzinfo=UTC)}
        put(deps, "trainings", f"tr-{year}", dated)
    training = running_training(deps)
    deps.backend.succeed(training["operation"], map_value=0.6)
    assert tick() == 200
    (finished,) = deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)

    assert post(cloudevent_client("export_and_notify"), pubsub_event(finished)).status_code == 200

    deleted = [c[1] for c in deps.backend.calls if c[0] == "delete_model"]
    assert deleted == ["m/2021"]
