"""The pipeline with TRAINING_BACKEND=vertex-ai on the real Pub/Sub and Firestore emulators and the real
`edgetrain serve`, which the official google-cloud-aiplatform client reaches over gRPC as it would reach
Google's Vertex AI.

One scenario runs once for the module (this machine has two cores): three tiny datasets are created by the
gateway and imported through import_dataset, in both of Vertex's import forms; the first trains for real
(trainer overrides keep it to about a minute), the second cannot train (no training rows), the third's
training pipeline is cancelled while it waits. Poll ticks and push-style deliveries drive the chain until
each dataset has its notification: import -> training pipeline -> status in Firestore -> export -> notify.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.deps import build, set_deps
from edgetrain_pipeline.training_backend import TRAINING
from edgetrain_pipeline.vertex_gateway import VertexGateway

from edgetrain.localstack import emulators

from .conftest import TEST_ENV
from .live import Functions, PubSubTap, tiny_dataset_csv

pytestmark = [pytest.mark.emulators, pytest.mark.slow]
service_process = pytest.importorskip("edgetrain_service.process")

FAST_TRAINER = {  # as test_integration_service.py: about a minute of training on this machine
    "max_epochs": 1,
    "finetune": False,
    "cache_views": 1,
    "input_size": 192,
    "max_train_images": 12,
    "max_eval_images": 4,
    "calibration_images": 4,
    "patience": 1,
}
TOKEN = "vertex-pipeline-token"
SCENARIO_TIMEOUT_S = 420
TICK_S = 2.0
ML_USE = {"TRAIN": "training", "VALIDATION": "validation", "TEST": "test"}


def _automl_rows(storage: Path, name: str, per_split: dict[str, int], relabel: str | None = None) -> list:
    uri = tiny_dataset_csv(storage, name, per_split, relabel)
    return list(csv.reader((storage / uri.removeprefix("gs://")).open()))


def vertex_csv(storage: Path, name: str, per_split: dict[str, int]) -> str:
    """The bundled sample's first images as a Vertex CSV (`ml_use,gs://…,label,x,y,,,x,y,,`); its URI."""
    rows = _automl_rows(storage, name, per_split)
    path = storage / "edgetrain-test-data" / name / "vertex.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([ML_USE[row[0]], *row[1:]] for row in rows)
    return f"gs://edgetrain-test-data/{name}/vertex.csv"


def vertex_jsonl(storage: Path, name: str, per_split: dict[str, int], relabel: str) -> str:
    """The same images as Vertex JSON Lines (one image per line, its boxes, its ml_use label); its URI."""
    images: dict[str, dict] = {}
    for row in _automl_rows(storage, name, per_split, relabel):
        line = images.setdefault(
            row[1],
            {
                "imageGcsUri": row[1],
                "boundingBoxAnnotations": [],
                "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": ML_USE[row[0]]},
            },
        )
        corners = dict(zip(("xMin", "yMin", "xMax", "yMax"), map(float, row[3:5] + row[7:9]), strict=True))
        line["boundingBoxAnnotations"].append({"displayName": row[2], **corners})
    path = storage / "edgetrain-test-data" / name / "vertex.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in images.values()))
    return f"gs://edgetrain-test-data/{name}/vertex.jsonl"


class Scenario:
    def __init__(self, deps, tap: PubSubTap, functions: Functions):
        self.deps, self.tap, self.functions = deps, tap, functions
        self.notifications: dict[str, dict] = {}  # dataset name -> notification
        self.datasets: dict[str, str] = {}

    def import_dataset(self, role: str, uri: str) -> None:
        self.datasets[role] = self.deps.backend.create_dataset(f"vertex_{role}")
        payload = {"schemaVersion": 1, "dataset": self.datasets[role], "inputUris": [uri]}
        assert self.functions.deliver("import_dataset", payload) == 200

    def _deliver_until_acked(self, target: str, payload: dict, message_id: str) -> None:
        for _ in range(300):  # a non-2xx answer means "redeliver later", as Pub/Sub push does
            if self.functions.deliver(target, payload, message_id) == 200:
                return
            time.sleep(0.2)
        raise AssertionError(f"{target} never acknowledged {payload}")

    def run(self) -> None:
        deadline = time.monotonic() + SCENARIO_TIMEOUT_S
        while len(self.notifications) < len(self.datasets) and time.monotonic() < deadline:
            assert self.functions.deliver("poll_operations", {}) == 200
            for message_id, payload in self.tap.pull(topics.TOPIC_DATASET_IMPORTED):
                self._deliver_until_acked("start_training", payload, message_id)
                if payload["dataset"] == self.datasets["cancel"]:
                    (training,) = self.deps.store.query("trainings", "dataset", "==", payload["dataset"])
                    self.deps.backend.clients.pipelines.cancel_training_pipeline(name=training["operation"])
            for message_id, payload in self.tap.pull(topics.TOPIC_TRAINING_FINISHED):
                self._deliver_until_acked("export_and_notify", payload, message_id)
            for _, payload in self.tap.pull(topics.TOPIC_NOTIFICATIONS):
                self.notifications[payload["dataset"]] = payload
            time.sleep(TICK_S)


@pytest.fixture(scope="module")
def scenario(pubsub_emulator, firestore_emulator, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-vertex")
    emulators.reset_firestore(firestore_emulator.host, TEST_ENV["GOOGLE_CLOUD_PROJECT"])
    emulators.reset_pubsub(TEST_ENV["GOOGLE_CLOUD_PROJECT"])
    service = service_process.ServiceProcess(
        data_dir=root / "service", trainer_overrides=FAST_TRAINER, token=TOKEN, workers=1
    )
    with pytest.MonkeyPatch.context() as env, service:
        for name, value in TEST_ENV.items():
            env.setenv(name, value)
        env.delenv("AUTOML_ENDPOINT")
        env.setenv("TRAINING_BACKEND", "vertex-ai")
        env.setenv("VERTEX_ENDPOINT", service.grpc_target)
        env.setenv("AUTOML_TOKEN", TOKEN)
        env.setenv("RETRY_DEADLINE_S", "20")
        get_env.cache_clear()
        deps = build(get_env())
        set_deps(deps)
        tap = PubSubTap(TEST_ENV["GOOGLE_CLOUD_PROJECT"])
        try:
            live = Scenario(deps, tap, Functions())
            storage = Path(service.storage_root)
            live.import_dataset("ok", vertex_csv(storage, "ok", {"TRAIN": 8, "VALIDATION": 2, "TEST": 2}))
            live.import_dataset("fail", vertex_jsonl(storage, "fail", {"TEST": 4}, relabel="TEST"))
            live.import_dataset("cancel", vertex_csv(storage, "cancel", {"TRAIN": 4, "VALIDATION": 2}))
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


def test_the_vertex_backend_is_what_drives_the_pipeline(scenario):
    assert isinstance(scenario.deps.backend, VertexGateway)
    for role in ("ok", "fail", "cancel"):
        assert "/trainingPipelines/" in _training(scenario, role)["operation"]
    imports = scenario.deps.store.query("imports", "state", "==", "SUCCEEDED")
    assert {i["dataset"] for i in imports} == set(scenario.datasets.values())  # CSV and JSONL alike


def test_trained_model_is_exported_and_notified(scenario):
    note = _notification(scenario, "ok")
    training = _training(scenario, "ok")
    assert note["type"] == "MODEL_EXPORTED" and note["promoted"] is True
    assert note["model"] == training["model"] and note["modelType"] == "mobile-versatile-1"
    assert note["stopReason"] in ("MODEL_CONVERGED", "BUDGET_REACHED")
    assert note["trainCostMilliNodeHours"] == training["trainCostMilliNodeHours"] > 0
    assert "boundingBoxMeanAveragePrecision" in note["metrics"]
    assert training["state"] == "SUCCEEDED" and training["progressPercent"] == 100
    assert training["exportState"] == "EXPORTED" and training["evaluation"]["curves"]
    exported = scenario.storage / note["exportLocation"].removeprefix("gs://")
    assert (exported / "model.tflite").stat().st_size > 0 and (exported / "dict.txt").is_file()
    assert training["datasetDisplayName"] == "vertex_ok"
    assert scenario.deps.store.get("datasets", training["datasetId"])["displayName"] == "vertex_ok"


def test_training_that_cannot_run_is_notified_as_failed(scenario):
    note = _notification(scenario, "fail")
    assert note["type"] == "TRAINING_FAILED" and note["reason"] and note["promoted"] is False
    assert _training(scenario, "fail")["state"] == "FAILED"


def test_cancelled_training_pipeline_is_notified_as_cancelled(scenario):
    note = _notification(scenario, "cancel")
    assert note["type"] == "TRAINING_CANCELLED"
    assert _training(scenario, "cancel")["state"] == "CANCELLED"


def test_gateway_finds_the_model_and_its_pipeline_as_reconciliation_does(scenario):
    training = _training(scenario, "ok")
    (model,) = scenario.deps.backend.list_models(training["dataset"])
    assert model.name == training["model"]
    assert model.labels.get("edgetrain-training") == training["trainingId"]  # what reconciliation matches on
    assert scenario.deps.backend.list_models(scenario.datasets["cancel"]) == []
    adopted = scenario.deps.backend.get_model(training["model"])  # what adoption records
    assert (adopted.name, adopted.model_type) == (training["model"], "mobile-versatile-1")
    assert adopted.cost_milli_node_hours == training["trainCostMilliNodeHours"]
    assert adopted.stop_reason == training["stopReason"] and adopted.dataset_id == training["datasetId"]
    (op,) = scenario.deps.backend.list_operations(f"worksOn={training['model']}")
    assert op.kind == TRAINING and op.name == training["operation"] and op.model.name == training["model"]
    assert scenario.deps.backend.list_operations("done=false") == []
