"""The pipeline on the real Pub/Sub and Firestore emulators and the real self-hosted AutoML service.

One scenario runs once for the module (trainings are shared: this machine has two cores): three tiny
datasets are imported through import_dataset; the first gets 100 duplicate deliveries (some concurrent) of
its dataset-imported event and trains for real (trainer overrides keep it to about a minute), the second
cannot train (no TRAIN rows), the third's training is cancelled while queued. Poll ticks and push-style
deliveries of every published message drive the chain until each dataset has its notification.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.deps import build, set_deps
from edgetrain_pipeline.training_backend import EXPORT, TRAINING

from edgetrain.localstack import emulators

from .conftest import TEST_ENV
from .live import Functions, PubSubTap, tiny_dataset_csv

pytestmark = [pytest.mark.emulators, pytest.mark.slow]
service_process = pytest.importorskip("edgetrain_service.process")

# A training of ~1 minute on this machine: one short epoch per stage on a handful of small images.
FAST_TRAINER = {
    "max_epochs": 1,
    "finetune": False,
    "cache_views": 1,
    "input_size": 192,
    "max_train_images": 12,
    "max_eval_images": 4,
    "calibration_images": 4,
    "patience": 1,
}
TOKEN = "pipeline-test-token"
SCENARIO_TIMEOUT_S = 420
TICK_S = 2.0


def _create_dataset(automl, name: str) -> str:
    from google.cloud import automl_v1

    dataset = automl_v1.Dataset(display_name=name, image_object_detection_dataset_metadata={})
    return automl.client.create_dataset(parent=automl.location_path, dataset=dataset).result(timeout=60).name


class Scenario:
    def __init__(self, deps, tap: PubSubTap, functions: Functions):
        self.deps, self.tap, self.functions = deps, tap, functions
        self.notifications: dict[str, dict] = {}  # dataset name -> notification
        self.delivery_statuses: list[int] = []
        self.redeliveries = 0  # deliveries answered "in progress, redeliver" (another copy held the claim)
        self.duplicates_delivered = False
        self.datasets: dict[str, str] = {}

    def import_dataset(self, role: str, csv_uri: str) -> None:
        self.datasets[role] = _create_dataset(self.deps.backend, f"pipeline_{role}")
        status = self.functions.deliver(
            "import_dataset", {"schemaVersion": 1, "dataset": self.datasets[role], "inputUris": [csv_uri]}
        )
        assert status == 200

    def _deliver_until_acked(self, target: str, payload: dict, message_id: str) -> int:
        """Push delivery as Pub/Sub does it: a non-2xx answer means "redeliver later"; the final status."""
        for _ in range(300):
            status = self.functions.deliver(target, payload, message_id)
            if status == 200:
                return status
            self.redeliveries += 1
            time.sleep(0.2)
        return status

    def _on_dataset_imported(self, message_id: str, payload: dict) -> None:
        if payload["dataset"] == self.datasets["ok"] and not self.duplicates_delivered:
            self.duplicates_delivered = True
            deliver = self._deliver_until_acked
            with ThreadPoolExecutor(max_workers=10) as pool:  # 30 concurrent, then 70 one after the other
                self.delivery_statuses += list(
                    pool.map(lambda _: deliver("start_training", payload, message_id), range(30))
                )
            self.delivery_statuses += [deliver("start_training", payload, message_id) for _ in range(70)]
            return
        assert self._deliver_until_acked("start_training", payload, message_id) == 200
        if payload["dataset"] == self.datasets["cancel"]:
            self._cancel_training(payload["dataset"])

    def _cancel_training(self, dataset: str) -> None:
        (training,) = [t for t in self.deps.store.query("trainings", "dataset", "==", dataset)]
        self.deps.backend.client.transport.operations_client.cancel_operation(training["operation"])

    def run(self) -> None:
        deadline = time.monotonic() + SCENARIO_TIMEOUT_S
        while len(self.notifications) < len(self.datasets) and time.monotonic() < deadline:
            assert self.functions.deliver("poll_operations", {}) == 200
            for message_id, payload in self.tap.pull(topics.TOPIC_DATASET_IMPORTED):
                self._on_dataset_imported(message_id, payload)
            for message_id, payload in self.tap.pull(topics.TOPIC_TRAINING_FINISHED):
                assert self.functions.deliver("export_and_notify", payload, message_id) == 200
            for _, payload in self.tap.pull(topics.TOPIC_NOTIFICATIONS):
                self.notifications[payload["dataset"]] = payload
            time.sleep(TICK_S)


@pytest.fixture(scope="module")
def scenario(pubsub_emulator, firestore_emulator, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-live")
    emulators.reset_firestore(firestore_emulator.host, TEST_ENV["GOOGLE_CLOUD_PROJECT"])
    emulators.reset_pubsub(TEST_ENV["GOOGLE_CLOUD_PROJECT"])
    service = service_process.ServiceProcess(
        data_dir=root / "service", trainer_overrides=FAST_TRAINER, token=TOKEN, workers=1
    )
    with pytest.MonkeyPatch.context() as env, service:
        for name, value in TEST_ENV.items():
            env.setenv(name, value)
        env.setenv("AUTOML_ENDPOINT", service.grpc_target)
        env.setenv("AUTOML_TOKEN", TOKEN)
        env.setenv("RETRY_DEADLINE_S", "20")
        get_env.cache_clear()
        deps = build(get_env())
        set_deps(deps)
        tap = PubSubTap(TEST_ENV["GOOGLE_CLOUD_PROJECT"])
        try:
            live = Scenario(deps, tap, Functions())
            storage = Path(service.storage_root)
            good = tiny_dataset_csv(storage, "ok", {"TRAIN": 8, "VALIDATION": 2, "TEST": 2})
            live.import_dataset("ok", good)
            live.import_dataset("fail", tiny_dataset_csv(storage, "fail", {"TEST": 4}, relabel="TEST"))
            live.import_dataset("cancel", good)
            live.malformed = {
                target: f"bad-{target}" for target in topics.PUBSUB_TRIGGERS if target != "poll_operations"
            }
            live.malformed_statuses = [
                live.functions.deliver(t, None, mid, raw=b"{oops") for t, mid in live.malformed.items()
            ]
            live.run()
            live.storage = storage
            yield live
        finally:
            tap.close()
            set_deps(None)
            get_env.cache_clear()


def _training(scenario, role: str) -> dict:
    (training,) = scenario.deps.store.query("trainings", "dataset", "==", scenario.datasets[role])
    return training


def _notification(scenario, role: str) -> dict:
    note = scenario.notifications.get(scenario.datasets[role])
    assert note is not None, (
        f"no notification for {role} within {SCENARIO_TIMEOUT_S} s: {_training(scenario, role)}"
    )
    return note


def test_hundred_duplicate_deliveries_make_one_create_model_call(scenario):
    assert scenario.delivery_statuses == [200] * 100
    assert len(scenario.deps.store.query("trainings", "dataset", "==", scenario.datasets["ok"])) == 1
    create_ops = {op.name for op in scenario.deps.backend.list_operations() if op.kind == TRAINING}
    recorded = [t["operation"] for t in scenario.deps.store.query("trainings", "operation", "!=", None)]
    assert sorted(create_ops) == sorted(recorded)  # every CreateModel call is one recorded training


def test_trained_model_is_exported_and_notified(scenario):
    note = _notification(scenario, "ok")
    training = _training(scenario, "ok")
    assert note["type"] == "MODEL_EXPORTED" and note["promoted"] is True
    assert note["model"] == training["model"] and note["modelType"] == "mobile-versatile-1"
    assert (
        note["stopReason"] in ("MODEL_CONVERGED", "BUDGET_REACHED") and note["trainCostMilliNodeHours"] >= 0
    )
    assert "boundingBoxMeanAveragePrecision" in note["metrics"]
    exported = scenario.storage / note["exportLocation"].removeprefix("gs://")
    assert (exported / "model.tflite").stat().st_size > 0
    assert training["exportState"] == "EXPORTED" and training["evaluation"]["curves"]


def test_the_dataset_and_its_trainings_carry_the_display_name_the_service_reports(scenario):
    training = _training(scenario, "ok")
    assert training["datasetDisplayName"] == "pipeline_ok"
    assert scenario.deps.store.get("datasets", training["datasetId"])["displayName"] == "pipeline_ok"


def test_training_that_cannot_run_is_notified_as_failed(scenario):
    note = _notification(scenario, "fail")
    assert note["type"] == "TRAINING_FAILED" and note["reason"] and note["promoted"] is False
    assert _training(scenario, "fail")["state"] == "FAILED"


def test_cancelled_training_is_notified_as_cancelled(scenario):
    note = _notification(scenario, "cancel")
    assert note["type"] == "TRAINING_CANCELLED"
    assert _training(scenario, "cancel")["state"] == "CANCELLED"


def test_malformed_messages_are_recorded_and_acknowledged(scenario):
    assert scenario.malformed_statuses == [200] * len(scenario.malformed)
    for target, message_id in scenario.malformed.items():
        recorded = scenario.deps.store.get("rejected_messages", f"{target}:{message_id}")
        assert recorded is not None and "not JSON" in recorded["reason"] and recorded["payload"] == "{oops"


def test_gateway_finds_a_model_and_its_operation_as_reconciliation_does(scenario):
    training = _training(scenario, "ok")
    models = scenario.deps.backend.list_models(training["dataset"])
    (model,) = [m for m in models if m.name == training["model"]]
    assert model.labels.get("edgetrain-training") == training["trainingId"]  # what reconciliation matches on
    assert scenario.deps.backend.list_models(scenario.datasets["cancel"]) == []
    ops = scenario.deps.backend.list_operations(f"worksOn={training['model']}")
    assert {o.kind for o in ops} == {TRAINING, EXPORT}
    (op,) = [o for o in ops if o.kind == TRAINING]
    assert op.name == training["operation"] and op.succeeded and op.model.name == training["model"]
