"""One real `edgetrain serve` per session (two workers, the service tests' CI-sized trainer), the official
google-cloud-aiplatform GAPIC clients over gRPC (insecure channel) and REST (anonymous credentials, http://
endpoint), a cards subset written in Vertex's import formats, and the session's three training pipelines.

Training is the slow part: `pipelines` starts one pipeline per model type at once; low-latency trains to
SUCCEEDED, versatile is cancelled once it runs, high-accuracy while it is still queued behind them.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1 as v1
from google.cloud.aiplatform_v1.services.dataset_service.transports import DatasetServiceGrpcTransport
from google.cloud.aiplatform_v1.services.model_service.transports import ModelServiceGrpcTransport
from google.cloud.aiplatform_v1.services.pipeline_service.transports import PipelineServiceGrpcTransport

from edgetrain_service.process import ServiceProcess
from edgetrain_service.vertex import names
from tests.service.conftest import BUCKET, PARENT, TINY_TRAINER, wait_for, write_cards_subset

ML_USE = {"TRAIN": "training", "VALIDATION": "validation", "TEST": "test"}
TRAIN_TIMEOUT_S = 600
State = v1.PipelineState


def pytest_configure(config):
    config.addinivalue_line("markers", "deletes_the_session_model: runs after every test that reads it")


def pytest_collection_modifyitems(items):
    """This folder's tests that delete the session model go after its other tests, within the places this
    folder's tests hold; every other test keeps its place (pytest calls this with the session's items)."""
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if here in Path(item.path).parents]
    ours = [items[i] for i in slots]
    ours.sort(key=lambda item: item.get_closest_marker("deletes_the_session_model") is not None)
    for slot, item in zip(slots, ours, strict=True):
        items[slot] = item


@dataclass
class Clients:
    datasets: v1.DatasetServiceClient
    pipelines: v1.PipelineServiceClient
    models: v1.ModelServiceClient


def grpc_clients(target: str) -> Clients:
    channel = grpc.insecure_channel(target)
    return Clients(
        v1.DatasetServiceClient(transport=DatasetServiceGrpcTransport(channel=channel)),
        v1.PipelineServiceClient(transport=PipelineServiceGrpcTransport(channel=channel)),
        v1.ModelServiceClient(transport=ModelServiceGrpcTransport(channel=channel)),
    )


def rest_clients(url: str) -> Clients:
    options = {"credentials": AnonymousCredentials(), "client_options": {"api_endpoint": url}}
    return Clients(
        v1.DatasetServiceClient(transport="rest", **options),
        v1.PipelineServiceClient(transport="rest", **options),
        v1.ModelServiceClient(transport="rest", **options),
    )


def write_vertex_csv(storage_root: Path, name: str, extra_lines: list[str] = ()) -> str:
    """The cards subset as a Vertex CSV (lower-case ML_USE), plus `extra_lines`; returns its gs:// URI."""
    automl_csv = storage_root / write_cards_subset(storage_root, name)[len("gs://") :]
    rows = list(csv.reader(open(automl_csv)))
    lines = [",".join([ML_USE[row[0]], *row[1:]]) for row in rows] + list(extra_lines)
    path = automl_csv.with_name("vertex.csv")
    path.write_text("\n".join(lines) + "\n")
    return f"gs://{BUCKET}/{name}/vertex.csv"


def write_vertex_jsonl(storage_root: Path, name: str, extra_lines: list[str] = ()) -> str:
    """A few cards images as Vertex JSON Lines (one image per line), plus `extra_lines`."""
    automl_csv = (
        storage_root / write_cards_subset(storage_root, name, {"TRAIN": 6, "TEST": 2})[len("gs://") :]
    )
    images: dict[str, dict] = {}
    for row in csv.reader(open(automl_csv)):
        item = images.setdefault(
            row[1],
            {
                "imageGcsUri": row[1],
                "boundingBoxAnnotations": [],
                "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": ML_USE[row[0]]},
            },
        )
        xmin, ymin, xmax, ymax = (float(row[i]) for i in (3, 4, 7, 8))
        box = {"displayName": row[2], "xMin": xmin, "yMin": ymin, "xMax": xmax, "yMax": ymax}
        item["boundingBoxAnnotations"].append(box)
    lines = [json.dumps(item) for item in images.values()] + list(extra_lines)
    path = automl_csv.with_name("vertex.jsonl")
    path.write_text("\n".join(lines) + "\n")
    return f"gs://{BUCKET}/{name}/vertex.jsonl"


def import_config(*uris: str) -> dict:
    return {"gcs_source": {"uris": list(uris)}, "import_schema_uri": names.BOUNDING_BOX_IMPORT_SCHEMA}


def create_dataset(clients: Clients, display_name: str) -> v1.Dataset:
    dataset = {"display_name": display_name, "metadata_schema_uri": names.IMAGE_DATASET_SCHEMA}
    return clients.datasets.create_dataset(parent=PARENT, dataset=dataset).result(timeout=30)


def pipeline_request(dataset: v1.Dataset, display_name: str, model_type: str, **inputs) -> dict:
    return {
        "display_name": display_name,
        "training_task_definition": names.OBJECT_DETECTION_TRAINING,
        "training_task_inputs": {"modelType": model_type, "budgetMilliNodeHours": 1000, **inputs},
        "input_data_config": {"dataset_id": dataset.name.rsplit("/", 1)[1]},
        "model_to_upload": {"display_name": display_name.replace("-", "_"), "labels": {"suite": "vertex"}},
        "labels": {"suite": "vertex"},
    }


def wait_for_state(clients: Clients, name: str, states: set, timeout_s: float = TRAIN_TIMEOUT_S):
    def reached():
        pipeline = clients.pipelines.get_training_pipeline(name=name)
        return pipeline if pipeline.state in states else None

    return wait_for(reached, timeout_s, f"{name} to reach {states}")


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("vertex")
    with ServiceProcess(
        root / "data", storage_root=root / "gcs", trainer_overrides=TINY_TRAINER, workers=2
    ) as running:
        yield running


@pytest.fixture
def clients(service) -> Clients:
    return grpc_clients(service.grpc_target)


@pytest.fixture
def rest(service) -> Clients:
    return rest_clients(service.vertex_rest_url)


@pytest.fixture(scope="session")
def dataset(service) -> v1.Dataset:
    """The cards subset imported from a Vertex CSV over gRPC."""
    clients = grpc_clients(service.grpc_target)
    dataset = create_dataset(clients, "cards vertex")
    uri = write_vertex_csv(service.storage_root, "vcards")
    clients.datasets.import_data(name=dataset.name, import_configs=[import_config(uri)]).result(timeout=300)
    return clients.datasets.get_dataset(name=dataset.name)


@dataclass
class Pipelines:
    succeeded: v1.TrainingPipeline  # MOBILE_TF_LOW_LATENCY_1, trained
    cancelled_running: v1.TrainingPipeline  # MOBILE_TF_VERSATILE_1
    cancelled_queued: v1.TrainingPipeline  # MOBILE_TF_HIGH_ACCURACY_1
    seen_states: dict[str, set]  # pipeline name -> states observed on the way


@pytest.fixture(scope="session")
def pipelines(service, dataset) -> Pipelines:
    clients = grpc_clients(service.grpc_target)
    create = clients.pipelines.create_training_pipeline
    low = create(
        parent=PARENT,
        training_pipeline=pipeline_request(
            dataset, "cards-low-latency", "MOBILE_TF_LOW_LATENCY_1", disableEarlyStopping=True
        ),
    )
    versatile = create(
        parent=PARENT, training_pipeline=pipeline_request(dataset, "cards-versatile", "MOBILE_TF_VERSATILE_1")
    )
    high = create(
        parent=PARENT,
        training_pipeline=pipeline_request(dataset, "cards-high-accuracy", "MOBILE_TF_HIGH_ACCURACY_1"),
    )
    seen = {p.name: {p.state} for p in (low, versatile, high)}
    seen[high.name].add(clients.pipelines.get_training_pipeline(name=high.name).state)
    clients.pipelines.cancel_training_pipeline(name=high.name)  # two workers: it waits behind the others
    running = wait_for_state(clients, versatile.name, {State.PIPELINE_STATE_RUNNING}, 120)
    seen[versatile.name].add(running.state)
    time.sleep(2)  # let it get into its training
    clients.pipelines.cancel_training_pipeline(name=versatile.name)
    seen[versatile.name].add(clients.pipelines.get_training_pipeline(name=versatile.name).state)
    done = {State.PIPELINE_STATE_SUCCEEDED, State.PIPELINE_STATE_FAILED, State.PIPELINE_STATE_CANCELLED}
    finished = [wait_for_state(clients, p.name, done) for p in (low, versatile, high)]
    return Pipelines(*finished, seen)
