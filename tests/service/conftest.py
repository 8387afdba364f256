"""One real `edgetrain serve` per session (two workers, CI-sized trainer settings), a cards subset in its
storage root, and one dataset plus trained models that the conformance tests share.

Training is the slow part (~2 min each on 2 cores): the session trains exactly two models, concurrently with
an import: `trainings` is both the concurrency scenario and the models the other tests read.
"""

from __future__ import annotations

import csv
import shutil
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
}
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


def create_imported_dataset(client: automl_v1.AutoMlClient, display_name: str, uri: str):
    dataset = client.create_dataset(
        parent=PARENT, dataset={"display_name": display_name, "image_object_detection_dataset_metadata": {}}
    ).result()
    client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [uri]}}).result(
        timeout=300
    )
    return client.get_dataset(name=dataset.name)


def start_training(
    client: automl_v1.AutoMlClient, dataset, display_name: str, model_type: str, budget: int = 1000
) -> operation.Operation:
    return client.create_model(
        parent=PARENT,
        model={
            "display_name": display_name,
            "dataset_id": dataset.name.rsplit("/", 1)[1],
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
        root / "data", storage_root=root / "gcs", trainer_overrides=TINY_TRAINER, workers=2
    ) as running:
        yield running


@pytest.fixture(scope="session")
def client(service) -> automl_v1.AutoMlClient:
    return grpc_clients(service.grpc_target)[0]


@pytest.fixture(scope="session")
def prediction_client(service) -> automl_v1.PredictionServiceClient:
    return grpc_clients(service.grpc_target)[1]


@pytest.fixture(scope="session")
def rest(service) -> automl_v1.AutoMlClient:
    return rest_client(service.rest_url)


@pytest.fixture(scope="session")
def cards_uri(service) -> str:
    return write_cards_subset(service.storage_root, "cards")


@pytest.fixture(scope="session")
def dataset(client, cards_uri):
    return create_imported_dataset(client, "cards", cards_uri)


@dataclass
class Trainings:
    low_latency: automl_v1.Model
    versatile: automl_v1.Model
    operations: list[operation.Operation]
    imported_dataset: automl_v1.Dataset


@pytest.fixture(scope="session")
def trainings(client, dataset, service) -> Trainings:
    """Two trainings (2 workers) and an import into a second dataset, all running at the same time."""
    first = start_training(client, dataset, "cards_low_latency", "mobile-low-latency-1")
    second = start_training(client, dataset, "cards_versatile", "mobile-versatile-1")
    other_uri = write_cards_subset(service.storage_root, "cards_again", {"TRAIN": 6, "TEST": 2})
    other = create_imported_dataset(client, "cards_again", other_uri)
    models = [op.result(timeout=TRAIN_TIMEOUT_S) for op in (first, second)]
    return Trainings(models[0], models[1], [first, second], other)
