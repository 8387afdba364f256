"""PipelineService through the official client over gRPC: one training pipeline per model type (one trained,
one cancelled while running, one while queued), refusals naming the field, get/list with filters and paging,
delete."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1
from google.cloud.aiplatform.v1.schema.trainingjob.definition_v1.types.automl_image_object_detection import (
    AutoMlImageObjectDetectionInputs,
    AutoMlImageObjectDetectionMetadata,
)
from google.protobuf import json_format

from tests.service.conftest import write_cards_subset

from .conftest import PARENT, State, create_dataset, import_config, pipeline_request, wait_for_state


def _refused(clients, dataset, field: str, **changes):
    request = pipeline_request(dataset, "refused", "MOBILE_TF_VERSATILE_1")
    for path, value in changes.items():
        target = request
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    with pytest.raises(exceptions.InvalidArgument) as raised:
        clients.pipelines.create_training_pipeline(parent=PARENT, training_pipeline=request)
    assert field in raised.value.message
    return raised.value.message


@pytest.mark.parametrize(
    "path, field",
    [("labels", "training_pipeline.labels"), ("model_to_upload__labels", "model_to_upload.labels")],
)
def test_labels_google_would_refuse_are_refused_naming_the_field(clients, dataset, path, field):
    assert "'Suite'" in _refused(clients, dataset, field, **{path: {"Suite": "vertex"}})


def test_too_many_model_labels_are_counted_as_the_caller_sent_them(clients, dataset):
    """The pipeline's edgetrain-compare-to label is copied onto the model: it takes one label's room."""
    labels = {f"key{number}": "value" for number in range(60)}
    message = _refused(
        clients,
        dataset,
        "training_pipeline.model_to_upload.labels",
        labels={"edgetrain-compare-to": "iod1"},
        model_to_upload__labels=labels,
    )
    assert "has 60 labels; at most 59" in message


@pytest.mark.parametrize("budget", [999, 100_001, 1500.5])
def test_budget_outside_1000_to_100000_is_refused_naming_the_field(clients, dataset, budget):
    message = _refused(
        clients,
        dataset,
        "training_task_inputs.budgetMilliNodeHours",
        training_task_inputs__budgetMilliNodeHours=budget,
    )
    assert "1,000–100,000" in message


def test_inputs_built_with_the_official_schema_class_are_read(clients, dataset):
    """The schema class writes budgetMilliNodeHours (int64) as a string; it is read as the number it is."""
    inputs = AutoMlImageObjectDetectionInputs(model_type="MOBILE_TF_VERSATILE_1", budget_milli_node_hours=999)
    struct = json_format.MessageToDict(AutoMlImageObjectDetectionInputs.pb(inputs))
    assert struct["budgetMilliNodeHours"] == "999"
    message = _refused(
        clients, dataset, "training_task_inputs.budgetMilliNodeHours", training_task_inputs=struct
    )
    assert "'999' is outside" in message


def test_cloud_and_unknown_model_types_are_refused(clients, dataset):
    message = _refused(
        clients,
        dataset,
        "training_task_inputs.modelType",
        training_task_inputs__modelType="CLOUD_HIGH_ACCURACY_1",
    )
    assert "cloud model type" in message
    _refused(
        clients,
        dataset,
        "training_task_inputs.modelType",
        training_task_inputs__modelType="mobile-versatile-1",
    )


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        (None, "training_task_inputs: must be an object with modelType, not null"),
        ([1, 2], "training_task_inputs: must be an object with modelType, not [1.0, 2.0]"),
        ({"budgetMilliNodeHours": 20000}, "training_task_inputs.modelType: is required"),
        ({"modelType": ["MOBILE_TF_VERSATILE_1"]}, "training_task_inputs.modelType: is required"),
    ],
    ids=["null", "list", "no-model-type", "model-type-list"],
)
def test_task_inputs_of_the_wrong_shape_are_refused_naming_the_field(clients, dataset, inputs, reason):
    """Found by probing: null, and a list as modelType, raised TypeError (a 500)."""
    assert reason in _refused(clients, dataset, "training_task_inputs", training_task_inputs=inputs)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("input_data_config__fraction_split", {"training_fraction": 0.8}, "input_data_config.fraction_split"),
        ("input_data_config__annotations_filter", "labels.x=y", "input_data_config.annotations_filter"),
        (
            "training_task_definition",
            "gs://google-cloud-aiplatform/schema/trainingjob/definition/custom_task_1.0.0.yaml",
            "training_pipeline.training_task_definition",
        ),
        (
            "training_task_inputs__tunableParameter",
            {"checkpointName": "x"},
            "training_task_inputs.tunableParameter",
        ),
        ("model_to_upload__display_name", "has spaces", "model_to_upload.display_name"),
        ("model_id", "my-model", "training_pipeline.model_id"),
    ],
)
def test_fields_the_trainer_cannot_honour_are_refused_naming_them(clients, dataset, path, value, field):
    _refused(clients, dataset, field, **{path: value})


def test_a_missing_dataset_is_not_found(clients, dataset):
    request = pipeline_request(dataset, "no data", "MOBILE_TF_VERSATILE_1")
    request["input_data_config"]["dataset_id"] = "IOD404"
    with pytest.raises(exceptions.NotFound):
        clients.pipelines.create_training_pipeline(parent=PARENT, training_pipeline=request)


def test_one_pipeline_per_model_type_succeeds_or_is_cancelled(clients, pipelines, dataset):
    succeeded, running, queued = pipelines.succeeded, pipelines.cancelled_running, pipelines.cancelled_queued
    assert succeeded.state == State.PIPELINE_STATE_SUCCEEDED, succeeded.error
    assert succeeded.model_to_upload.name.startswith(f"{PARENT}/models/")
    assert succeeded.training_task_inputs["modelType"] == "MOBILE_TF_LOW_LATENCY_1"
    assert succeeded.training_task_inputs["disableEarlyStopping"] is True
    metadata = succeeded.training_task_metadata
    parsed = json_format.ParseDict(
        dict(metadata), AutoMlImageObjectDetectionMetadata.pb()()
    )  # the schema's keys
    assert parsed.cost_milli_node_hours == int(metadata["costMilliNodeHours"])
    assert metadata["successfulStopReason"] in ("BUDGET_REACHED", "MODEL_CONVERGED")
    assert 0 < int(metadata["costMilliNodeHours"]) <= 1000
    assert succeeded.end_time >= succeeded.create_time
    assert succeeded.input_data_config.dataset_id == dataset.name.rsplit("/", 1)[1]
    assert State.PIPELINE_STATE_QUEUED in pipelines.seen_states[succeeded.name]

    assert running.state == State.PIPELINE_STATE_CANCELLED and running.error.code == 1
    assert {State.PIPELINE_STATE_RUNNING, State.PIPELINE_STATE_CANCELLING} <= pipelines.seen_states[
        running.name
    ]
    assert not running.model_to_upload.name
    assert queued.state == State.PIPELINE_STATE_CANCELLED
    assert pipelines.seen_states[queued.name] == {State.PIPELINE_STATE_QUEUED}
    assert queued.training_task_inputs["modelType"] == "MOBILE_TF_HIGH_ACCURACY_1"


def test_a_training_the_trainer_refuses_ends_failed_with_the_reason(clients, service, pipelines):
    dataset = create_dataset(clients, "test rows only")
    uri = write_cards_subset(service.storage_root, "test_only", {"TEST": 3})
    clients.datasets.import_data(name=dataset.name, import_configs=[import_config(uri)]).result(timeout=120)
    request = pipeline_request(dataset, "no-train-rows", "MOBILE_TF_LOW_LATENCY_1")
    request["labels"] = {"suite": "failing"}
    created = clients.pipelines.create_training_pipeline(parent=PARENT, training_pipeline=request)
    failed = wait_for_state(
        clients, created.name, {State.PIPELINE_STATE_FAILED, State.PIPELINE_STATE_SUCCEEDED}
    )
    assert failed.state == State.PIPELINE_STATE_FAILED
    assert failed.error.code == 3 and "TRAIN images" in failed.error.message  # INVALID_ARGUMENT, the reason
    assert not failed.model_to_upload.name


def test_list_pipelines_filters_on_state_display_name_and_labels_with_paging(clients, pipelines):
    def names(filter_: str, page_size: int = 0) -> list[str]:
        request = {"parent": PARENT, "filter": filter_, "page_size": page_size}
        return [p.name for p in clients.pipelines.list_training_pipelines(request=request)]

    ours = {pipelines.succeeded.name, pipelines.cancelled_running.name, pipelines.cancelled_queued.name}
    assert names('state="PIPELINE_STATE_SUCCEEDED"') == [pipelines.succeeded.name]
    assert set(names("state=PIPELINE_STATE_CANCELLED")) == ours - {pipelines.succeeded.name}
    assert names('display_name="cards-versatile"') == [pipelines.cancelled_running.name]
    assert set(names('labels.suite="vertex" AND NOT state="PIPELINE_STATE_SUCCEEDED"')) == ours - {
        pipelines.succeeded.name
    }
    assert set(names("", page_size=1)) >= ours  # the pager follows next_page_token
    first = clients.pipelines.list_training_pipelines(request={"parent": PARENT, "page_size": 1})._response
    assert len(first.training_pipelines) == 1 and first.next_page_token
    with pytest.raises(exceptions.InvalidArgument, match="filter"):
        names('colour="blue"')


def test_cancel_of_a_finished_pipeline_changes_nothing(clients, pipelines):
    clients.pipelines.cancel_training_pipeline(name=pipelines.succeeded.name)
    assert clients.pipelines.get_training_pipeline(name=pipelines.succeeded.name).state == (
        State.PIPELINE_STATE_SUCCEEDED
    )


def test_delete_a_finished_pipeline(clients, pipelines):
    op = clients.pipelines.delete_training_pipeline(name=pipelines.cancelled_queued.name)
    op.result(timeout=30)
    assert isinstance(op.metadata, v1.DeleteOperationMetadata)
    assert op.operation.name.startswith(f"{pipelines.cancelled_queued.name}/operations/")
    with pytest.raises(exceptions.NotFound):
        clients.pipelines.get_training_pipeline(name=pipelines.cancelled_queued.name)
    listed = clients.pipelines.list_training_pipelines(parent=PARENT)
    assert pipelines.cancelled_queued.name not in {p.name for p in listed}


@pytest.mark.parametrize("value", ['"BOGUS"', "PIPELINE_STATE_DONE", '"pipeline_state_succeeded"'])
def test_a_state_filter_naming_no_pipeline_state_is_refused(clients, value):
    """Found by probing: state=BOGUS matched nothing with an OK answer, hiding a typo."""
    request = {"parent": PARENT, "filter": f"state={value}"}
    with pytest.raises(exceptions.InvalidArgument, match="filter.*PIPELINE_STATE_SUCCEEDED"):
        list(clients.pipelines.list_training_pipelines(request=request))
