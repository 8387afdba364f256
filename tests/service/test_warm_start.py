"""Warm start through the official AutoML v1 client: the `edgetrain-base-model` model label (issue 29 item 3).

A service of its own with one worker, so that a training queued behind another stays queued: a base model
trains; a warm start from it, asked by the pipeline's AutoML gateway (its base_model becomes the label),
trains while a second one (the label's value in lower case, as GCP label values are) waits behind it; the
base model is deleted then, so the waiting one fails with FAILED_PRECONDITION while the running one, which
copied the base model's weights when it started, finishes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import automl_v1

from edgetrain_service.process import ServiceProcess

from .conftest import (
    PARENT,
    TINY_TRAINER,
    create_imported_dataset,
    finished,
    grpc_clients,
    start_training,
    wait_for_progress,
    write_cards_subset,
)

BASE_LABEL = "edgetrain-base-model"
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def automl_gateway(service):
    """The pipeline's AutoML v1 gateway (official client) on `service`."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
    from edgetrain_pipeline.automl_gateway import AutoMlGateway
    from edgetrain_pipeline.config import get_env

    with pytest.MonkeyPatch.context() as env:
        env.setenv("GOOGLE_CLOUD_PROJECT", PARENT.split("/")[1])
        env.setenv("AUTOML_LOCATION", PARENT.split("/")[3])
        env.setenv("TRAINING_BACKEND", "automl-v1")
        env.setenv("AUTOML_ENDPOINT", service.grpc_target)
        get_env.cache_clear()
        try:
            return AutoMlGateway(get_env())
        finally:
            get_env.cache_clear()


def create_warm(client, dataset, display_name: str, base: str, model_type="mobile-low-latency-1"):
    return client.create_model(
        parent=PARENT,
        model={
            "display_name": display_name,
            "dataset_id": dataset.name.rsplit("/", 1)[1],
            "labels": {BASE_LABEL: base, "suite": "warm-start"},
            "image_object_detection_model_metadata": {
                "model_type": model_type,
                "train_budget_milli_node_hours": 1000,
            },
        },
    )


def model_of(op) -> automl_v1.Model:
    assert not op.HasField("error"), op.error
    return automl_v1.Model.deserialize(op.response.value)


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    root = tmp_path_factory.mktemp("warm_service")
    with ServiceProcess(
        root / "data", storage_root=root / "gcs", trainer_overrides=TINY_TRAINER, workers=1
    ) as service:
        client = grpc_clients(service.grpc_target)[0]
        dataset = create_imported_dataset(
            client, "cards_warm", write_cards_subset(service.storage_root, "warm")
        )
        base_op = start_training(client, dataset, "base", "mobile-low-latency-1").operation.name
        base = model_of(finished(client, base_op))
        base_id = base.name.rsplit("/", 1)[1]
        running = automl_gateway(service).create_model(
            dataset.name, "warm", "mobile-low-latency-1", 1000, {"suite": "warm-start"}, base_model=base.name
        )
        waiting = create_warm(client, dataset, "warm_waiting", base_id.lower()).operation.name
        wait_for_progress(client, running, 5, 300, "the warm start to be under way")
        client.delete_model(name=base.name).result(timeout=60)
        outcome = {"running": finished(client, running), "waiting": finished(client, waiting)}
        yield service, client, dataset, base, outcome


def test_a_model_label_starts_the_training_from_that_model(warm):
    service, client, _, base, outcome = warm
    trained = model_of(outcome["running"])
    assert trained.image_object_detection_model_metadata.model_type == "mobile-low-latency-1"
    assert trained.labels[BASE_LABEL] == base.name.rsplit("/", 1)[1].lower()
    assert client.get_model(name=trained.name).labels[BASE_LABEL] == trained.labels[BASE_LABEL]
    op_id = outcome["running"].name.rsplit("/", 1)[1]
    lines = [line for line in service.log_path.read_text().splitlines() if f" {op_id} " in line]
    assert any("data: warm start from " in line and "6 of 6 labels known" in line for line in lines), lines
    assert any("data: the warm-start weights: validation mAP@0.5" in line for line in lines), lines


def test_a_base_model_deleted_while_the_training_waits_fails_it_with_the_reason(warm):
    service, client, _, base, outcome = warm
    waiting = outcome["waiting"]
    assert waiting.error.code == 9  # FAILED_PRECONDITION
    assert f"Base model {base.name} was deleted after this training was queued" in waiting.error.message
    assert not [m for m in client.list_models(parent=PARENT) if m.display_name == "warm_waiting"]


@pytest.mark.parametrize(
    ("base", "model_type", "problem"),
    [
        ("iod1234", "mobile-low-latency-1", "does not exist"),
        ("not a model id", "mobile-low-latency-1", "is not a model id"),
        ("projects/other/locations/us-central1/models/IOD1", "mobile-low-latency-1", "is not a model id"),
    ],
)
def test_a_base_model_that_is_not_a_model_of_this_server_is_refused(warm, base, model_type, problem):
    _, client, dataset, _, _ = warm
    with pytest.raises(exceptions.InvalidArgument) as raised:
        create_warm(client, dataset, "refused", base, model_type)
    assert f"model.labels[{BASE_LABEL}]: " in raised.value.message and problem in raised.value.message


def test_a_base_model_of_another_model_type_is_refused(warm):
    _, client, dataset, _, outcome = warm
    trained = model_of(outcome["running"])
    with pytest.raises(exceptions.InvalidArgument) as raised:
        create_warm(client, dataset, "refused", trained.name.rsplit("/", 1)[1], "mobile-versatile-1")
    assert "is a mobile-low-latency-1 model; a mobile-versatile-1 training" in raised.value.message
