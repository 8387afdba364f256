"""Helpers for the integration tests on the real emulators and the real AutoML service: a tiny dataset
from the bundled sample, Pub/Sub taps on the pipeline's topics, push-style delivery to the functions, and the
pipeline's Deps wired to a running service."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import functions_framework
import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.automl_gateway import AutoMlGateway
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.deps import Deps, set_deps
from edgetrain_pipeline.firestore_store import FirestoreStore
from google.cloud import pubsub_v1

from edgetrain.localstack import emulators

from .apps import MAIN
from .conftest import TEST_ENV
from .events import post, pubsub_event
from .recording_publisher import RecordingPublisher

SAMPLE = Path(__file__).resolve().parents[2] / "edgetrain" / "sample_data" / "bccd_sample"
BUCKET = "edgetrain-test-data"


def tiny_dataset_csv(
    storage_root: Path, name: str, per_split: dict[str, int], relabel: str | None = None
) -> str:
    """Copy the first images of each split of the bundled BCCD sample under storage_root/BUCKET/name and write
    an AutoML import CSV for them; its gs:// URI. relabel puts every row in that ML_USE instead."""
    rows = list(csv.reader((SAMPLE / "annotations.csv").open()))
    chosen: dict[str, str] = {}
    for row in rows:
        split, image = row[0], row[1]
        if image not in chosen and sum(1 for s in chosen.values() if s == split) < per_split.get(split, 0):
            chosen[image] = split
    folder = storage_root / BUCKET / name
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for row in rows:
        if row[1] in chosen:
            shutil.copy(SAMPLE / row[1], folder / row[1])
            lines.append([relabel or row[0], f"gs://{BUCKET}/{name}/{row[1]}", *row[2:]])
    with (folder / "annotations.csv").open("w", newline="") as out:
        csv.writer(out).writerows(lines)
    return f"gs://{BUCKET}/{name}/annotations.csv"


class PubSubTap:
    """Creates the pipeline's topics in the emulator with one pull subscription each (as push would)."""

    TOPICS = (topics.TOPIC_DATASET_IMPORTED, topics.TOPIC_TRAINING_FINISHED, topics.TOPIC_NOTIFICATIONS)

    def __init__(self, project: str):
        self.project = project
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        for topic in self.TOPICS:
            self.publisher.create_topic(name=self.publisher.topic_path(project, topic))
            self.subscriber.create_subscription(
                name=self._subscription(topic), topic=self.publisher.topic_path(project, topic)
            )

    def _subscription(self, topic: str) -> str:
        return self.subscriber.subscription_path(self.project, f"tap-{topic}")

    def pull(self, topic: str) -> list[tuple[str, dict]]:
        """(message id, payload) of what was published since the last pull, acknowledged."""
        response = self.subscriber.pull(
            subscription=self._subscription(topic), max_messages=100, return_immediately=True, timeout=30
        )
        if response.received_messages:
            self.subscriber.acknowledge(
                subscription=self._subscription(topic), ack_ids=[m.ack_id for m in response.received_messages]
            )
        return [(m.message.message_id, json.loads(m.message.data)) for m in response.received_messages]

    def close(self) -> None:
        self.subscriber.close()


class Functions:
    """The entry points as functions-framework apps; deliver() posts a Pub/Sub CloudEvent like a push."""

    def __init__(self):
        self.apps = {
            name: functions_framework.create_app(name, MAIN, "cloudevent") for name in topics.PUBSUB_TRIGGERS
        }

    def deliver(self, target: str, payload, message_id: str | None = None, raw: bytes | None = None) -> int:
        client = self.apps[target].test_client()  # one per call: deliveries may run in parallel threads
        return post(client, pubsub_event(payload, event_id=message_id, raw=raw)).status_code


@contextmanager
def automl_deps(firestore_host: str, service, **env_vars: str) -> Iterator[Deps]:
    """The pipeline's Deps against the running `service` (edgetrain_service.process.ServiceProcess) through
    the real AutoML gateway, on a reset Firestore emulator, with a RecordingPublisher; TEST_ENV and
    `env_vars` set for the block, the settings cache cleared on both sides."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**TEST_ENV, "AUTOML_ENDPOINT": service.grpc_target, **env_vars}.items():
            env.setenv(name, value)
        get_env.cache_clear()
        settings = get_env()
        emulators.reset_firestore(firestore_host, TEST_ENV["GOOGLE_CLOUD_PROJECT"])
        deps = Deps(settings, FirestoreStore(settings), AutoMlGateway(settings), RecordingPublisher())
        set_deps(deps)
        try:
            yield deps
        finally:
            set_deps(None)
            get_env.cache_clear()
