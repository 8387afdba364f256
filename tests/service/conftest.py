"""One real `edgetrain serve` per session (two workers, CI-sized trainer settings), a cards subset in its
storage root, and one dataset plus trained models that the conformance tests share.

Training is the slow part (~2-3 min on 2 shared cores): `trainings` runs the concurrency and the SIGKILL
scenarios once, and the models they leave are what the conformance tests read.
"""

from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.api_core import operation
from google.auth.credentials import AnonymousCredentials
from google.cloud import automl_v1
from google.cloud.automl_v1.services.auto_ml.transports import AutoMlGrpcTransport
from google.cloud.automl_v1.services.prediction_service.transports import PredictionServiceGrpcTransport

from edgetrain_service.process import ServiceProcess

CARDS = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "cards"
PARENT = "projects/edgetrain-test/locations/us-central1"
BUCKET = "test-bucket"
# Small enough for CI: one epoch of the head on cached 128 px features, no fine-tuning.
TINY_TRAINER = {
    "max_epochs": 1,
    "max_train_images": 8,
    "max_eval_images": 4,
    "patience": 1,
    "finetune": False,
    "cache_views": 1,
    "input_size": 128,
    "calibration_images": 4,
    "threads": 1,
    # a one-epoch model scores its boxes under the default 0.05; Predict tests need boxes to return
    "score_threshold": 0.01,
}
# The session's service runs --workers 2 and leaves thread sizing to it (test_concurrency checks the share).
SHARED_CORES_TRAINER = {key: value for key, value in TINY_TRAINER.items() if key != "threads"}
SUBSET = {"TRAIN": 20, "TEST": 4}  # cards has no VALIDATION rows: the trainer holds some TRAIN out
TRAIN_TIMEOUT_S = 600


def write_cards_subset(storage_root: Path, name: str, counts: dict[str, int] = SUBSET) -> str:
    """Copy a few cards images under gs://BUCKET/<name>/ with an AutoML CSV; returns the CSV's gs:// URI."""
    rows = list(csv.reader(open(CARDS / "annotations.csv")))
    chosen: dict[str, list[str]] = {split: [] for split in counts}
    for row in rows:
        images = chosen.get(row[0])
        if images is not None and row[1] not in images and len(images) < counts[row[0]]:
            images.append(row[1])
    keep = {image for images in chosen.values() for image in images}
    folder = storage_root / BUCKET / name
    (folder / "images").mkdir(parents=True, exist_ok=True)
    out = []
    for row in rows:
        if row[1] in keep:
            shutil.copy(CARDS / row[1], folder / "images" / Path(row[1]).name)
            out.append([row[0], f"gs://{BUCKET}/{name}/images/{Path(row[1]).name}", *row[2:]])
    with open(folder / "import.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(out)
    return f"gs://{BUCKET}/{name}/import.csv"


def grpc_clients(target: str) -> tuple[automl_v1.AutoMlClient, automl_v1.PredictionServiceClient]:
    channel = grpc.insecure_channel(target)
    return (
        automl_v1.AutoMlClient(transport=AutoMlGrpcTransport(channel=channel)),
        automl_v1.PredictionServiceClient(transport=PredictionServiceGrpcTransport(channel=channel)),
    )


def rest_client(url: str) -> automl_v1.AutoMlClient:
    return automl_v1.AutoMlClient(
        transport="rest", credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )


def create_dataset(client: automl_v1.AutoMlClient, display_name: str) -> automl_v1.Dataset:
    """An empty image object detection dataset."""
    return client.create_dataset(
        parent=PARENT, dataset={"display_name": display_name, "image_object_detection_dataset_metadata": {}}
    ).result()


def import_files(
    client: automl_v1.AutoMlClient, dataset: automl_v1.Dataset, *uris: str
) -> operation.Operation:
    """ImportData of the CSVs at `uris` into `dataset`; the operation, not waited for."""
    return client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": list(uris)}})


def create_imported_dataset(client: automl_v1.AutoMlClient, display_name: str, uri: str):
    dataset = create_dataset(client, display_name)
    import_files(client, dataset, uri).result(timeout=300)
    return client.get_dataset(name=dataset.name)


def start_training(
    client: automl_v1.AutoMlClient, dataset, display_name: str, model_type: str, budget: int = 1000
) -> operation.Operation:
    return client.create_model(
        parent=PARENT,
        model={
            "display_name": display_name,
            "dataset_id": dataset.name.rsplit("/", 1)[1],
            "labels": {"suite": "service-tests"},
            "image_object_detection_model_metadata": {
                "model_type": model_type,
                "train_budget_milli_node_hours": budget,
            },
        },
    )


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("service")
    with ServiceProcess(
        root / "data", storage_root=root / "gcs", trainer_overrides=SHARED_CORES_TRAINER, workers=2
    ) as running:
        yield running


@pytest.fixture
def client(service) -> automl_v1.AutoMlClient:
    """A gRPC client of the service as it runs now (the session restarts it once, see `trainings`)."""
    return grpc_clients(service.grpc_target)[0]


@pytest.fixture
def prediction_client(service) -> automl_v1.PredictionServiceClient:
    return grpc_clients(service.grpc_target)[1]


@pytest.fixture
def rest(service) -> automl_v1.AutoMlClient:
    return rest_client(service.rest_url)


@pytest.fixture(scope="session")
def cards_uri(service) -> str:
    return write_cards_subset(service.storage_root, "cards")


@pytest.fixture(scope="session")
def dataset(service, cards_uri):
    return create_imported_dataset(grpc_clients(service.grpc_target)[0], "cards", cards_uri)


def wait_for(predicate, timeout_s: float, what: str):
    """Poll `predicate` until it returns something truthy (returned) or raise after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def operation_metadata(client: automl_v1.AutoMlClient, name: str) -> automl_v1.OperationMetadata:
    op = client.transport.operations_client.get_operation(name)
    return automl_v1.OperationMetadata.deserialize(op.metadata.value)


def wait_for_progress(
    client: automl_v1.AutoMlClient, name: str, at_least: int, timeout_s: float, what: str
) -> None:
    """Wait until operation `name` reports at least `at_least` percent done."""
    wait_for(lambda: operation_metadata(client, name).progress_percent >= at_least, timeout_s, what)


def finished(client: automl_v1.AutoMlClient, name: str, timeout_s: float = TRAIN_TIMEOUT_S):
    ops = client.transport.operations_client
    return wait_for(lambda: (op := ops.get_operation(name)).done and op, timeout_s, f"{name} to finish")


@dataclass
class Trainings:
    low_latency: automl_v1.Model
    versatile: automl_v1.Model
    operations: list[str]  # the two trainings' operation names
    queued: str  # a third training, queued behind them when the service was killed
    queued_outcome: object  # its final google.longrunning Operation (cancelled once it had started)
    imported_dataset: automl_v1.Dataset  # imported while both trainings ran


@pytest.fixture(scope="session")
def trainings(service, dataset) -> Trainings:
    """The session's slow scenario, run once: two trainings (2 workers) and an import at the same time, a
    third training queued; SIGKILL of the whole service mid-training; restart on the same data dir. The two
    interrupted trainings run again and finish (their models serve the conformance tests); the queued one
    starts after them and is then cancelled."""
    client = grpc_clients(service.grpc_target)[0]
    first = start_training(client, dataset, "cards_low_latency", "mobile-low-latency-1").operation.name
    second = start_training(client, dataset, "cards_versatile", "mobile-versatile-1").operation.name
    third = start_training(client, dataset, "cards_high_accuracy", "mobile-high-accuracy-1").operation.name
    other_uri = write_cards_subset(service.storage_root, "cards_again", {"TRAIN": 6, "TEST": 2})
    other = create_imported_dataset(client, "cards_again", other_uri)
    for name in (first, second):
        wait_for_progress(client, name, 5, 300, "training under way")
    service.kill()  # SIGKILL: the server and its worker processes, mid-training
    service.start()
    client = grpc_clients(service.grpc_target)[0]
    models = []
    for name in (first, second):
        op = finished(client, name)
        assert not op.HasField("error"), op.error
        models.append(automl_v1.Model.deserialize(op.response.value))
    wait_for_progress(client, third, 5, 300, "the queued training to start")
    client.transport.operations_client.cancel_operation(third)
    return Trainings(models[0], models[1], [first, second], third, finished(client, third, 300), other)
