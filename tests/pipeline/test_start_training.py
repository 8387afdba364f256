"""start_training's use case: idempotency under duplicate (concurrent) deliveries, and the dataset policy."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.envelope import PubSubEvent
from edgetrain_pipeline.errors import TransientFailureException
from edgetrain_pipeline.usecases.poll_operations import poll_operations
from edgetrain_pipeline.usecases.start_training import start_training


def event(payload: dict, event_id: str = "evt-1") -> PubSubEvent:
    return PubSubEvent(event_id=event_id, text=json.dumps(payload), attributes={})


def request(**fields) -> dict:
    return {"schemaVersion": 1, "dataset": "cards", **fields}


def deliver_until_acked(deps, delivery: PubSubEvent) -> tuple[str, int]:
    """Call the use case as Pub/Sub would: a raise means "redeliver later"; the final status and attempts."""
    for attempt in range(1, 1000):
        try:
            return start_training(deps, delivery).status, attempt
        except TransientFailureException:
            time.sleep(0.05)
    raise AssertionError("never acknowledged")


@pytest.mark.emulators
def test_hundred_duplicate_deliveries_some_concurrent_start_one_training(deps):
    duplicate = event(request(), event_id="msg-42")
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: deliver_until_acked(deps, duplicate), range(40)))
    results += [deliver_until_acked(deps, duplicate) for _ in range(60)]

    statuses = [status for status, _ in results]
    assert deps.backend.count("create_model") == 1
    assert statuses.count("created") == 1 and statuses.count("duplicate") == 99
    assert len(deps.store.query("trainings", "datasetId", "==", "cards")) == 1


@pytest.mark.emulators
def test_claim_of_a_delivery_that_died_is_taken_over_after_the_lease(deps, pipeline_env):
    deps.store.event_ref("start_training", "msg-7").create(
        {"key": "msg-7", "outcome": None, "claimedAt": datetime(2026, 1, 1, tzinfo=UTC)}
    )
    fresh = event(request(), event_id="msg-8")
    deps.store.event_ref("start_training", "msg-8").create(
        {"key": "msg-8", "outcome": None, "claimedAt": datetime.now(UTC)}
    )

    assert start_training(deps, event(request(), event_id="msg-7")).status == "created"
    with pytest.raises(TransientFailureException, match="being handled"):
        start_training(deps, fresh)


@pytest.mark.emulators
def test_same_request_id_in_different_messages_is_one_training(deps):
    first = start_training(deps, event(request(requestId="upstream-7"), "a"))
    second = start_training(deps, event(request(requestId="upstream-7"), "b"))

    assert (first.status, second.status) == ("created", "duplicate")
    assert deps.backend.count("create_model") == 1


@pytest.mark.emulators
def test_requests_while_a_training_runs_are_coalesced_into_one_follow_up(deps):
    start_training(deps, event(request(), "e1"))
    second = start_training(deps, event(request(modelType="mobile-low-latency-1"), "e2"))
    third = start_training(deps, event(request(modelType="mobile-high-accuracy-1"), "e3"))
    assert (second.status, third.status) == ("coalesced", "coalesced")
    assert deps.backend.count("create_model") == 1

    (running,) = deps.store.query("trainings", "state", "==", "RUNNING")
    deps.backend.succeed(running["operation"])
    deps.backend.datasets["cards"] += 10
    poll_operations(deps)

    (follow_up,) = deps.publisher.on(topics.TOPIC_DATASET_IMPORTED)
    assert follow_up["modelType"] == "mobile-high-accuracy-1"  # the latest request wins
    assert follow_up["requestId"] == f"coalesced-{running['trainingId']}"
    assert start_training(deps, event(follow_up, "e4")).status == "created"
    assert deps.backend.calls[-1][3] == "mobile-high-accuracy-1"


@pytest.mark.emulators
def test_import_without_enough_new_examples_is_skipped_but_a_manual_request_is_not(deps, pipeline_env):
    start_training(deps, event(request(), "e1"))
    (running,) = deps.store.query("trainings", "state", "==", "RUNNING")
    deps.backend.succeed(running["operation"])
    poll_operations(deps)

    skipped = start_training(deps, event(request(source="import"), "e2"))
    manual = start_training(deps, event(request(source="manual"), "e3"))

    assert skipped.status == "skipped" and "0 new examples" in skipped.detail
    assert manual.status == "created"
    assert deps.store.get("events", "start_training:e2")["outcome"] == "skip"


@pytest.mark.emulators
def test_dataset_policy_document_overrides_the_defaults(deps):
    deps.store.update(
        "datasets",
        "cards",
        {"policy": {"modelType": "mobile-low-latency-1", "trainBudgetMilliNodeHours": 2_000}},
    )

    start_training(deps, event(request()))

    _, _, _, model_type, budget, _ = deps.backend.calls[-1]
    assert (model_type, budget) == ("mobile-low-latency-1", 2_000)
