"""Push subscriptions made by the local stack deliver Eventarc-shaped CloudEvents to functions-framework."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from edgetrain.localstack import wiring
from edgetrain.localstack.functions import start_function
from tests.conftest import TEST_PROJECT

pytestmark = pytest.mark.emulators
PUSH_TARGET = Path(__file__).parent / "push_target" / "main.py"
DELIVERY_DEADLINE_S = 120  # a generous wait for delivery on a busy machine, not a performance assertion


@pytest.fixture
def serve_push_target(tmp_path, clean_emulators):
    """Start a push-target entry point; returns (function, events file)."""
    started = []

    def serve(target: str):
        events_file = tmp_path / f"{target}.jsonl"
        env = dict(os.environ, EVENTS_FILE=str(events_file))
        function = start_function(PUSH_TARGET, target, "cloudevent", tmp_path, env)
        started.append(function)
        function.wait_ready()
        return function, events_file

    yield serve
    for function in started:
        function.stop()


def _wait_for_events(events_file: Path, count: int) -> list[dict]:
    deadline = time.monotonic() + DELIVERY_DEADLINE_S
    while time.monotonic() < deadline:
        if events_file.exists():
            events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
            if len(events) >= count:
                return events
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} event(s) reached the function within {DELIVERY_DEADLINE_S} s")


def _wire(topic: str, function) -> pubsub_v1.PublisherClient:
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    wiring.create_topics(publisher, TEST_PROJECT, [topic])
    wiring.create_push_subscription(subscriber, TEST_PROJECT, topic, function.target, function.url)
    return publisher


def test_push_delivers_a_pubsub_cloudevent_with_the_topic_as_source(serve_push_target):
    function, events_file = serve_push_target("record_event")
    publisher = _wire("dataset-imported", function)
    payload = {"schemaVersion": 1, "dataset": "ICN123"}

    message_id = publisher.publish(
        publisher.topic_path(TEST_PROJECT, "dataset-imported"), json.dumps(payload).encode(), origin="test"
    ).result(timeout=30)
    [event] = _wait_for_events(events_file, 1)

    assert event["attributes"]["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert (
        event["attributes"]["source"]
        == f"//pubsub.googleapis.com/projects/{TEST_PROJECT}/topics/dataset-imported"
    )
    assert event["attributes"]["id"] == message_id
    message = event["data"]["message"]
    assert json.loads(base64.b64decode(message["data"])) == payload
    assert message["attributes"] == {"origin": "test"}
    assert message["messageId"] == message_id


def test_a_failed_delivery_is_pushed_again_with_the_same_event_id(serve_push_target):
    function, events_file = serve_push_target("fail_first_delivery")
    publisher = _wire("training-finished", function)

    message_id = publisher.publish(publisher.topic_path(TEST_PROJECT, "training-finished"), b"{}").result(30)
    events = _wait_for_events(events_file, 2)

    assert [e["outcome"] for e in events[:2]] == ["failed", "ok"]
    assert {e["attributes"]["id"] for e in events} == {message_id}
