"""PipelineService: CreateTrainingPipeline, GetTrainingPipeline, ListTrainingPipelines,
CancelTrainingPipeline and DeleteTrainingPipeline.

A training pipeline is the AutoML CreateModel training (same job, same trainer) with the Vertex request
recorded beside it; its id is that operation's id, and its state is read from the operation and its job:
queued -> QUEUED, running -> RUNNING, cancel asked -> CANCELLING, then SUCCEEDED / FAILED / CANCELLED.
"""

from __future__ import annotations

import json

from google.cloud.aiplatform_v1.types import PipelineState
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2

from edgetrain_trainer.types import (
    DEFAULT_BUDGET_MILLI_NODE_HOURS,
    MAX_BUDGET_MILLI_NODE_HOURS,
    MIN_BUDGET_MILLI_NODE_HOURS,
)

from .. import datasets as automl_datasets
from .. import models as automl_models
from .. import names as automl_names
from .. import operations as automl_ops
from ..errors import FailedPrecondition, NotFound, invalid_field
from ..job_payloads import COMPARE_TO_LABEL
from ..protos import Empty, lro, now
from ..protos import Model as AutoMlModel
from ..protos import t as automl_t
from ..resource_labels import MAX_CREATE_MODEL_LABELS, validate_labels
from ..resources import page
from ..store import Store
from . import names, operations
from .datasets import only_fields
from .filters import attributes_of, compile_filter, refuse_unserved

KIND = "vertex_training_pipeline"
PIPELINE_FIELDS = {"display_name", "input_data_config", "training_task_definition", "training_task_inputs"}
PIPELINE_FIELDS |= {"model_to_upload", "labels"}
PIPELINE_OUTPUT_ONLY = {"name", "state", "error", "create_time", "start_time", "end_time", "update_time"}
PIPELINE_OUTPUT_ONLY |= {"training_task_metadata"}
MODEL_FIELDS = {"display_name", "labels", "description"}
INPUT_KEYS = {"modelType", "budgetMilliNodeHours", "disableEarlyStopping", "uptrainBaseModelId"}
# disableEarlyStopping: the trainer stops only at its budget (or an operator's max_epochs)
NO_EARLY_STOPPING = {"patience": 1_000_000}


def _shown(value) -> str:
    """A Struct number as the caller wrote it (Struct holds every number as a double)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else repr(value)


def _task_inputs(struct, field: str) -> tuple[str, int, bool, str | None]:
    """(model type, budget, disableEarlyStopping, uptrainBaseModelId or None) of the training task inputs."""
    inputs = json_format.MessageToDict(struct)  # any JSON value: a Value, not a Struct
    if not isinstance(inputs, dict):
        raise invalid_field(field, f"must be an object with modelType, not {json.dumps(inputs)[:40]}")
    if "baseModelId" in inputs:
        raise invalid_field(
            f"{field}.baseModelId",
            "is for image classification; an object-detection training starts from an earlier model "
            "with uptrainBaseModelId",
        )
    for key in inputs:
        if key not in INPUT_KEYS:
            raise invalid_field(f"{field}.{key}", f"is not supported; use {', '.join(sorted(INPUT_KEYS))}")
    model_type = inputs.get("modelType")
    if not isinstance(model_type, str):
        raise invalid_field(f"{field}.modelType", f"is required: one of {', '.join(names.MODEL_TYPES)}")
    if model_type in names.CLOUD_MODEL_TYPES:
        raise invalid_field(
            f"{field}.modelType",
            f"{model_type!r} is a cloud model type; this service trains edge models only "
            f"({', '.join(names.MODEL_TYPES)})",
        )
    if model_type not in names.MODEL_TYPES:
        raise invalid_field(
            f"{field}.modelType", f"{model_type!r} is not one of {', '.join(names.MODEL_TYPES)}"
        )
    budget = inputs.get("budgetMilliNodeHours", DEFAULT_BUDGET_MILLI_NODE_HOURS)
    try:
        budget_value = float(budget)
    except (TypeError, ValueError):
        budget_value = float("nan")
    if not budget_value.is_integer() or not (
        MIN_BUDGET_MILLI_NODE_HOURS <= budget_value <= MAX_BUDGET_MILLI_NODE_HOURS
    ):
        raise invalid_field(
            f"{field}.budgetMilliNodeHours",
            f"{_shown(budget)} is outside {MIN_BUDGET_MILLI_NODE_HOURS:,}–{MAX_BUDGET_MILLI_NODE_HOURS:,} "
            "milli node hours (the range for MOBILE_TF_* model types)",
        )
    no_early_stop = inputs.get("disableEarlyStopping", False)
    if not isinstance(no_early_stop, bool):
        raise invalid_field(f"{field}.disableEarlyStopping", f"{no_early_stop!r} must be true or false")
    base = inputs.get("uptrainBaseModelId")
    if base is not None and (not isinstance(base, str) or not base.strip()):
        raise invalid_field(f"{field}.uptrainBaseModelId", f"{base!r} must be a model id")
    return names.MODEL_TYPES[model_type], int(budget_value), no_early_stop, base


def create_training_pipeline(store: Store, request):
    parent = automl_names.parse_location(request.parent)
    pipeline, field = request.training_pipeline, "training_pipeline"
    only_fields(pipeline, PIPELINE_FIELDS, PIPELINE_OUTPUT_ONLY, field)
    names.validate_display_name(pipeline.display_name, f"{field}.display_name")
    validate_labels(pipeline.labels, f"{field}.labels")
    if pipeline.training_task_definition != names.OBJECT_DETECTION_TRAINING:
        raise invalid_field(
            f"{field}.training_task_definition",
            f"{pipeline.training_task_definition!r} is not served; use {names.OBJECT_DETECTION_TRAINING}",
        )
    inputs_field = f"{field}.training_task_inputs"
    model_type, budget, no_early_stop, base = _task_inputs(pipeline.training_task_inputs, inputs_field)
    data = pipeline.input_data_config
    for descriptor, _ in data.ListFields():
        if descriptor.name != "dataset_id":
            raise invalid_field(
                f"{field}.input_data_config.{descriptor.name}",
                "is not supported: the split comes from each image's ML_USE at import (training, validation, "
                "test; images without one are split 80/10/10)",
            )
    if not data.dataset_id:
        raise invalid_field(f"{field}.input_data_config.dataset_id", "is required")
    dataset = automl_datasets.get_dataset(
        store, f"{parent}/datasets/{data.dataset_id}", f"{field}.input_data_config.dataset_id"
    )
    if dataset.example_count == 0:
        raise FailedPrecondition(f"Dataset {dataset.name} has no data items; import data before training.")
    upload = pipeline.model_to_upload
    only_fields(upload, MODEL_FIELDS, {"name"}, f"{field}.model_to_upload")
    automl_names.validate_display_name(upload.display_name, f"{field}.model_to_upload.display_name")
    model = AutoMlModel(display_name=upload.display_name, dataset_id=data.dataset_id)
    model.labels.update(upload.labels)
    if COMPARE_TO_LABEL in pipeline.labels:  # on the Vertex surface the pipeline's label names it
        # counted against the labels the caller sent, not the model's, which hold one more
        room = MAX_CREATE_MODEL_LABELS - (COMPARE_TO_LABEL not in upload.labels)
        validate_labels(upload.labels, f"{field}.model_to_upload.labels", room)
        model.labels[COMPARE_TO_LABEL] = pipeline.labels[COMPARE_TO_LABEL]
    model.image_object_detection_model_metadata.model_type = model_type
    model.image_object_detection_model_metadata.train_budget_milli_node_hours = budget
    stored = names.t("TrainingPipeline")()
    stored.CopyFrom(pipeline)
    for output_only in PIPELINE_OUTPUT_ONLY:
        stored.ClearField(output_only)
    stored.model_to_upload.ClearField("name")
    stored.create_time.CopyFrom(now())
    model_names: list[str] = []

    def record(db, op, model_name: str) -> None:  # in the transaction that queues the training
        stored.name = f"{parent}/trainingPipelines/{op.name.rsplit('/', 1)[1]}"
        Store.put_resource(db, stored.name, KIND, parent, stored.SerializeToString(), label=model_name)
        model_names.append(model_name)

    automl_models.create_model(
        store,
        automl_t("CreateModelRequest")(parent=parent, model=model),
        trainer_overrides=NO_EARLY_STOPPING if no_early_stop else None,
        record=record,
        base=base,
        base_field=f"{inputs_field}.uptrainBaseModelId",
        labels_field=f"{field}.model_to_upload.labels",
    )
    return view(store, stored, model_names[0])


def view(store: Store, stored, model_name: str):
    """The stored request with its state, times, error and model read from the training's operation."""
    pipeline = names.t("TrainingPipeline")()
    pipeline.CopyFrom(stored)
    location, pipeline_id = names.resource(stored.name, "trainingPipelines")
    row = store.get_operation(f"{location}/operations/{pipeline_id}")
    if row is None:  # its AutoML operation was deleted once done: only the model tells the outcome
        trained = store.get_resource(model_name, automl_models.KIND) is not None
        pipeline.state = (
            PipelineState.PIPELINE_STATE_SUCCEEDED if trained else PipelineState.PIPELINE_STATE_FAILED
        )
        if trained:
            pipeline.model_to_upload.name = model_name
        else:
            pipeline.error.code = code_pb2.NOT_FOUND
            pipeline.error.message = "The training's operation was deleted and no model was created."
        return pipeline
    op = lro.Operation.FromString(row["proto"])
    meta = automl_ops.metadata_of(op)
    pipeline.update_time.CopyFrom(meta.update_time)
    if op.done:
        pipeline.end_time.CopyFrom(meta.update_time)
        if op.HasField("error"):
            cancelled = op.error.code == code_pb2.CANCELLED
            pipeline.state = (
                PipelineState.PIPELINE_STATE_CANCELLED if cancelled else PipelineState.PIPELINE_STATE_FAILED
            )
            pipeline.error.CopyFrom(op.error)
        else:
            pipeline.state = PipelineState.PIPELINE_STATE_SUCCEEDED
            pipeline.model_to_upload.name = model_name
            pipeline.model_to_upload.version_id = "1"
            trained = AutoMlModel()
            op.response.Unpack(trained)
            details = trained.image_object_detection_model_metadata
            pipeline.training_task_metadata.struct_value.update(
                {
                    "costMilliNodeHours": str(details.train_cost_milli_node_hours),
                    "successfulStopReason": details.stop_reason,
                }
            )
        return pipeline
    job = store.query_one("SELECT state FROM jobs WHERE op_name=?", (op.name,))
    if row["cancel_requested"]:
        pipeline.state = PipelineState.PIPELINE_STATE_CANCELLING
    elif job is not None and job["state"] == "running":
        pipeline.state = PipelineState.PIPELINE_STATE_RUNNING
    else:
        pipeline.state = PipelineState.PIPELINE_STATE_QUEUED
    return pipeline


def _load(store: Store, name: str):
    names.resource(name, "trainingPipelines")
    row = store.query_one("SELECT proto, label FROM resources WHERE name=? AND kind=?", (name, KIND))
    if row is None:
        raise NotFound(f"Training pipeline {name} not found.")
    return names.t("TrainingPipeline").FromString(row["proto"]), row["label"]


def get_training_pipeline(store: Store, request):
    return view(store, *_load(store, request.name))


def list_training_pipelines(store: Store, request):
    parent = automl_names.parse_location(request.parent)
    refuse_unserved(request, ("read_mask",))
    states = {"state": list(PipelineState.__members__)}
    keep = compile_filter(request.filter, {"display_name", "state", "training_task_definition"}, states)
    current: dict[str, Message] = {}  # each pipeline's view, as the filter saw it

    def matches(row, stored) -> bool:
        pipeline = current[stored.name] = view(store, stored, row["label"])
        values = {
            "display_name": pipeline.display_name,
            "state": PipelineState(pipeline.state).name,
            "training_task_definition": pipeline.training_task_definition,
        }
        return keep(attributes_of(values, pipeline.labels))

    PipelineProto = names.t("TrainingPipeline")
    items, token = page(store, KIND, parent, PipelineProto, request.page_size, request.page_token, matches)
    response = names.t("ListTrainingPipelinesResponse")(next_page_token=token)
    response.training_pipelines.extend(current[stored.name] for stored in items)
    return response


def cancel_training_pipeline(store: Store, request):
    _load(store, request.name)
    location, pipeline_id = names.resource(request.name, "trainingPipelines")
    try:
        return automl_ops.cancel_operation(
            store, lro.CancelOperationRequest(name=f"{location}/operations/{pipeline_id}")
        )
    except NotFound:  # its AutoML operation was deleted, which only a done one can be: nothing to cancel
        return Empty()


def delete_training_pipeline(store: Store, request):
    stored, model_name = _load(store, request.name)
    current = view(store, stored, model_name)
    done = (
        PipelineState.PIPELINE_STATE_SUCCEEDED,
        PipelineState.PIPELINE_STATE_FAILED,
        PipelineState.PIPELINE_STATE_CANCELLED,
    )
    if current.state not in done:
        raise FailedPrecondition(
            f"Training pipeline {request.name} is {PipelineState(current.state).name}; cancel it and wait "
            "until it is CANCELLED, then delete it."
        )
    location = automl_names.location_of(request.name)
    with store.tx() as db:
        db.execute("DELETE FROM resources WHERE name=? AND kind=?", (request.name, KIND))
        inner = automl_ops.done_now(db, location, request.name, "delete_details", Empty())
        name = operations.record(db, request.name, inner.name, "delete")
    return operations.view(store, operations.find(store, name))
