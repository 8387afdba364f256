"""The Cloud Scheduler stand-in publishes ticks to the poll topic until stopped."""

from __future__ import annotations

import json
import time

import pytest
from google.cloud import pubsub_v1

from edgetrain.localstack import wiring
from edgetrain.localstack.scheduler import SchedulerLoop
from tests.conftest import TEST_PROJECT

pytestmark = pytest.mark.emulators


def _pull_all(subscriber, subscription) -> list:
    response = subscriber.pull(subscription=subscription, max_messages=100, timeout=30)
    return [m.message for m in response.received_messages]


def test_the_scheduler_publishes_ticks_until_stopped(clean_emulators):
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    [topic] = wiring.create_topics(publisher, TEST_PROJECT, ["poll-tick"])
    subscription = wiring.create_pull_subscription(subscriber, TEST_PROJECT, "poll-tick", "poll-tick-check")

    scheduler = SchedulerLoop(publisher, topic, interval_s=0.2).start()
    deadline = time.monotonic() + 60  # a bound for a broken loop, not a performance assertion
    while scheduler.ticks < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    ticks_at_stop = scheduler.ticks
    messages = []
    while len(messages) < ticks_at_stop:
        messages += _pull_all(subscriber, subscription)

    assert len(messages) == ticks_at_stop >= 3
    assert all(m.attributes["origin"] == "scheduler" for m in messages)
    assert all("scheduledTime" in json.loads(m.data) for m in messages)


def test_a_non_positive_interval_is_refused():
    with pytest.raises(ValueError, match="interval_s"):
        SchedulerLoop(publisher=None, topic="t", interval_s=0)
