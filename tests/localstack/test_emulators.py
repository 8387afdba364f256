"""The emulator helpers start real emulators, reset them, and stop them without leaving a process behind."""

from __future__ import annotations

import os
import subprocess

import pytest
from google.cloud import firestore, pubsub_v1

from edgetrain.localstack import emulators
from edgetrain.localstack.errors import EmulatorNotInstalledError, ProcessStartError
from edgetrain.localstack.processes import port_open
from tests.conftest import TEST_PROJECT

pytestmark = pytest.mark.emulators


def _group_pids(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_reset_firestore_deletes_every_document(clean_firestore):
    client = firestore.Client(project=TEST_PROJECT)
    client.collection("datasets").document("d1").set({"name": "bccd"})
    client.collection("datasets").document("d1").collection("trainings").document("t1").set(
        {"state": "RUNNING"}
    )

    emulators.reset_firestore(clean_firestore.host, TEST_PROJECT)

    assert not client.collection("datasets").document("d1").get().exists
    assert list(client.collection_group("trainings").stream()) == []


def test_pubsub_emulator_delivers_a_published_message(clean_emulators):
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(TEST_PROJECT, "emulator-check")
    subscription = subscriber.subscription_path(TEST_PROJECT, "emulator-check-pull")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)

    publisher.publish(topic, b"hello", origin="test").result(timeout=30)
    response = subscriber.pull(subscription=subscription, max_messages=1, timeout=30)

    assert [m.message.data for m in response.received_messages] == [b"hello"]
    assert response.received_messages[0].message.attributes["origin"] == "test"


def test_reset_pubsub_removes_topics_and_subscriptions(clean_emulators):
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(TEST_PROJECT, "to-be-reset")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(
        name=subscriber.subscription_path(TEST_PROJECT, "to-be-reset-sub"), topic=topic
    )

    emulators.reset_pubsub(TEST_PROJECT)

    project = f"projects/{TEST_PROJECT}"
    assert list(publisher.list_topics(project=project)) == []
    assert list(subscriber.list_subscriptions(project=project)) == []


@pytest.mark.parametrize(
    "start", [emulators.start_pubsub, emulators.start_firestore], ids=["pubsub", "firestore"]
)
def test_stop_leaves_no_process_and_frees_the_port(start, tmp_path):
    emulator = start(tmp_path)
    pgid = emulator.process.pid
    assert any("java" in _cmdline(pid) for pid in _group_pids(pgid)), "the emulator runs a Java child"

    emulator.stop()

    assert _group_pids(pgid) == []
    assert not port_open(emulator.port)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def test_an_emulator_that_exits_at_start_raises_with_its_log(tmp_path, monkeypatch):
    launcher = tmp_path / "broken-emulator"
    launcher.write_text("#!/bin/sh\necho 'cannot bind: Address already in use' >&2\nexit 3\n")
    launcher.chmod(0o755)
    monkeypatch.setenv("EDGETRAIN_PUBSUB_EMULATOR", str(launcher))

    with pytest.raises(ProcessStartError, match="(?s)exited with code 3.*Address already in use"):
        emulators.start_pubsub(tmp_path)


def test_a_missing_launcher_names_the_packages_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGETRAIN_FIRESTORE_EMULATOR", str(tmp_path / "nowhere"))

    with pytest.raises(EmulatorNotInstalledError, match="google-cloud-cli-firestore-emulator"):
        emulators.start_firestore(tmp_path)
    assert not os.path.exists(tmp_path / "firestore-emulator.log")
