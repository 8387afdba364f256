"""Retraining through the whole chain (issue 29 items 1-2): the real Firestore emulator, the real self-hosted
AutoML service behind the pipeline's own AutoML gateway, the use cases called as their functions would.

Two tiny trainings of one dataset: the first becomes the champion; the second is started with the
edgetrain-compare-to label, the service evaluates the champion on the second's TEST images, and
export_and_notify decides on the two evaluations of the same images and records both.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.deps import Deps
from edgetrain_pipeline.envelope import PubSubEvent
from edgetrain_pipeline.model_evaluations import COMPARE_TO_LABEL
from edgetrain_pipeline.usecases.exports import export_and_notify
from edgetrain_pipeline.usecases.poll_operations import poll_operations
from edgetrain_pipeline.usecases.start_training import start_training

from .live import automl_deps, tiny_dataset_csv

pytestmark = [pytest.mark.emulators, pytest.mark.slow]
service_process = pytest.importorskip("edgetrain_service.process")

TINY = {
    "max_epochs": 1,
    "finetune": False,
    "cache_views": 1,
    "input_size": 128,
    "max_train_images": 8,
    "max_eval_images": 4,
    "calibration_images": 4,
    "patience": 1,
    "threads": 1,
}
STEP_TIMEOUT_S = 420
_events = iter(range(10**6))


def _event(payload: dict) -> PubSubEvent:
    return PubSubEvent(event_id=f"cmp-{next(_events)}", text=json.dumps(payload), attributes={})


def _until(deps: Deps, what: str, done) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        poll_operations(deps)
        time.sleep(2)


def _retrain(deps: Deps, dataset: str, n: int) -> dict:
    """One manual training of `dataset` through start_training → poller → export_and_notify → exports."""
    start_training(deps, _event({"schemaVersion": 1, "dataset": dataset, "source": "manual"}))
    finished = lambda: deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)  # noqa: E731
    _until(deps, f"training {n} to finish", lambda: len(finished()) >= n)
    message = deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)[n - 1]
    assert message["state"] == "SUCCEEDED", deps.store.get("trainings", message["trainingId"])
    export_and_notify(deps, _event(message))
    notes = lambda: deps.publisher.on(topics.TOPIC_NOTIFICATIONS)  # noqa: E731
    _until(deps, f"notification {n}", lambda: len(notes()) >= n)
    return deps.store.get("trainings", message["trainingId"])


@pytest.fixture(scope="module")
def retrained(firestore_emulator, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-comparison")
    with (
        service_process.ServiceProcess(
            data_dir=root / "service", trainer_overrides=TINY, workers=1
        ) as service,
        automl_deps(firestore_emulator.host, service) as deps,
    ):
        dataset = deps.backend.create_dataset("retrained")
        uri = tiny_dataset_csv(Path(service.storage_root), "retrained", {"TRAIN": 8, "TEST": 3})
        op = deps.backend.import_data(dataset, [uri])
        _until(deps, "the import", lambda: deps.backend.get_operation(op).done)
        first = _retrain(deps, dataset, 1)
        second = _retrain(deps, dataset, 2)
        yield deps, first, second


def test_the_second_training_is_decided_on_the_same_images_as_the_champion(retrained):
    deps, first, second = retrained
    assert first["decidedBy"] == "first-model" and first["promoted"] is True
    model = deps.backend.get_model(second["model"])
    assert model.labels[COMPARE_TO_LABEL] == first["model"].rsplit("/", 1)[1].lower()

    comparison = second["comparison"]
    assert comparison["sameImages"] is True and comparison["championModel"] == first["model"]
    champion = comparison["championEvaluation"]
    assert champion["testImagesDigest"] == second["evaluation"]["testImagesDigest"]
    assert champion["imageCount"] == second["evaluation"]["imageCount"] == 3
    labels = [e["label"] for e in second["evaluation"]["perLabel"]]
    assert [e["label"] for e in champion["perLabel"]] == labels  # same data: the champion knows every label
    assert second["latencyMs"] > 0 and comparison["championLatencyMs"] > 0
    assert comparison["decidedBy"] in ("metric", "label-drop", "latency", "promoted")
    assert comparison["decidedBy"] == second["decidedBy"]
    assert "not the same images" not in second["championReason"]

    note = deps.publisher.on(topics.TOPIC_NOTIFICATIONS)[1]
    assert note["trainingId"] == second["trainingId"] and note["decidedBy"] == comparison["decidedBy"]
    assert [row["label"] for row in note["labels"]] == labels
    assert all(row["championAp50"] is not None for row in note["labels"])
