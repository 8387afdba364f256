"""uptrainBaseModelId: a training pipeline that starts from an earlier model (issue 29 item 3), through the
official client over gRPC. The accepted one warm-starts from the session's trained low-latency model."""

from __future__ import annotations

import pytest
from google.api_core import exceptions

from .conftest import PARENT, State, pipeline_request, wait_for_state

FIELD = "training_pipeline.training_task_inputs.uptrainBaseModelId"


def _create(clients, dataset, model_type: str, **inputs):
    request = pipeline_request(dataset, "warm", model_type, **inputs)
    return clients.pipelines.create_training_pipeline(parent=PARENT, training_pipeline=request)


def test_a_training_pipeline_starts_from_its_uptrain_base_model(clients, service, dataset, pipelines):
    base_id = pipelines.succeeded.model_to_upload.name.rsplit("/", 1)[1]
    created = _create(clients, dataset, "MOBILE_TF_LOW_LATENCY_1", uptrainBaseModelId=base_id)
    assert created.training_task_inputs["uptrainBaseModelId"] == base_id
    done = {State.PIPELINE_STATE_SUCCEEDED, State.PIPELINE_STATE_FAILED, State.PIPELINE_STATE_CANCELLED}
    finished = wait_for_state(clients, created.name, done)
    assert finished.state == State.PIPELINE_STATE_SUCCEEDED, finished.error
    op_id = created.name.rsplit("/", 1)[1]
    lines = [line for line in service.log_path.read_text().splitlines() if f" {op_id} " in line]
    assert any("data: warm start from " in line for line in lines), lines


def test_an_unknown_uptrain_base_model_is_refused_naming_the_field(clients, dataset):
    with pytest.raises(exceptions.InvalidArgument) as raised:
        _create(clients, dataset, "MOBILE_TF_LOW_LATENCY_1", uptrainBaseModelId="IOD404")
    assert raised.value.message.startswith(f"{FIELD}: ") and "does not exist" in raised.value.message


def test_a_base_model_of_another_type_is_refused(clients, dataset, pipelines):
    base_id = pipelines.succeeded.model_to_upload.name.rsplit("/", 1)[1]
    with pytest.raises(exceptions.InvalidArgument) as raised:
        _create(clients, dataset, "MOBILE_TF_VERSATILE_1", uptrainBaseModelId=base_id)
    assert raised.value.message.startswith(f"{FIELD}: ")
    assert "is a mobile-low-latency-1 model; a mobile-versatile-1 training" in raised.value.message


def test_base_model_id_is_for_classification(clients, dataset):
    with pytest.raises(exceptions.InvalidArgument) as raised:
        _create(clients, dataset, "MOBILE_TF_LOW_LATENCY_1", baseModelId="IOD1")
    assert "training_task_inputs.baseModelId: is for image classification" in raised.value.message
