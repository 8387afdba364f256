"""Model use cases: CreateModel (queues a training), Get, List, Update, Delete, Deploy/Undeploy, ExportModel
(queued) and the model evaluations."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from edgetrain_trainer import EXPORT_FORMATS, MODEL_TYPES
from edgetrain_trainer.errors import InvalidArgumentError
from edgetrain_trainer.types import DEFAULT_BUDGET_MILLI_NODE_HOURS, DEFAULT_MODEL_TYPE, validate_budget

from . import datasets, names, operations
from .config import ServiceConfig
from .errors import FailedPrecondition, InvalidArgument, invalid_field
from .filters import automl_terms, id_value, within_cap
from .job_payloads import BASE_MODEL_LABEL, COMPARE_TO_LABEL, ExportJob, TrainJob
from .protos import DeploymentState, Empty, Model, ModelEvaluation, lro, now, t
from .resource_labels import MAX_CREATE_MODEL_LABELS, validate_labels
from .resources import apply_mask, bump_etag, check_etag, load, load_for_update, mask_paths, page
from .store import Store

KIND = "model"
EVALUATION_KIND = "model_evaluation"
CLOUD_MODEL_TYPES = ("cloud-high-accuracy-1", "cloud-low-latency-1", "cloud")
EDGE_NODE_QPS = -1.0  # AutoML reports -1 for edge models: they are not served by nodes


def get_model(store: Store, name: str, field: str = "name") -> Model:
    names.parse_name(name, "models", field)
    return load(store, name, KIND, Model, "Model")


def _validate_metadata(model: Model) -> tuple[str, int]:
    if model.WhichOneof("model_metadata") != "image_object_detection_model_metadata":
        raise invalid_field(
            "model.image_object_detection_model_metadata",
            "is required: this service trains image object detection models only",
        )
    meta = model.image_object_detection_model_metadata
    model_type = meta.model_type or DEFAULT_MODEL_TYPE
    field = "model.image_object_detection_model_metadata.model_type"
    if model_type in CLOUD_MODEL_TYPES:
        raise InvalidArgument(
            f"{field}: {model_type!r} is a cloud model type; this service trains edge models only "
            f"({', '.join(MODEL_TYPES)})",
            field=field,
        )
    if model_type not in MODEL_TYPES:
        raise invalid_field(field, f"{model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    budget = meta.train_budget_milli_node_hours or DEFAULT_BUDGET_MILLI_NODE_HOURS
    try:
        validate_budget(budget)
    except InvalidArgumentError as error:  # the trainer's message already names trainBudgetMilliNodeHours
        budget_field = f"{field.rpartition('.')[0]}.train_budget_milli_node_hours"
        raise InvalidArgument(str(error), field=budget_field) from error
    return model_type, budget


def base_model(store: Store, parent: str, value: str, model_type: str, field: str) -> str:
    """The full name of the model a training warm-starts from: `value` is a model id in any case (label
    values are lower case) or a full model name, of a model this server trained in `parent`, of
    `model_type`. Raises InvalidArgument naming `field` otherwise."""
    wanted = value.strip()
    model_id = wanted.rsplit("/", 1)[-1].upper()  # model ids are upper case (names.new_id)
    name = f"{parent}/models/{model_id}"
    try:
        names.parse_name(name, "models", field)
        elsewhere = "/" in wanted and wanted.upper() != name.upper()
    except InvalidArgument:
        elsewhere = True
    if elsewhere:
        raise invalid_field(field, f"{value!r} is not a model id (nor a model name in {parent})")
    stored = store.get_resource(name, KIND)
    if stored is None:
        raise invalid_field(
            field, f"model {name} does not exist; a training can start only from a model this server trained"
        )
    found_type = Model.FromString(stored).image_object_detection_model_metadata.model_type
    if found_type != model_type:
        raise invalid_field(
            field,
            f"model {name} is a {found_type} model; a {model_type} training can start only from a "
            f"{model_type} model",
        )
    return name


def create_model(
    store: Store,
    request,
    trainer_overrides: dict | None = None,
    record: Callable[[sqlite3.Connection, lro.Operation, str], None] | None = None,
    base: str | None = None,
    base_field: str = f"model.labels[{BASE_MODEL_LABEL}]",
    labels_field: str = "model.labels",
) -> lro.Operation:
    """`trainer_overrides`: this training's settings over the server's (Vertex's disableEarlyStopping).
    `record(db, operation, model name)` writes more in the same transaction (Vertex's training pipeline).
    The model to warm-start from is `base` when given (Vertex's uptrainBaseModelId), else the model label
    BASE_MODEL_LABEL (the AutoML v1 surface has no field for it); errors about it name `base_field`."""
    parent = names.parse_location(request.parent)
    model = request.model
    names.validate_display_name(model.display_name, "model.display_name")
    validate_labels(model.labels, labels_field, MAX_CREATE_MODEL_LABELS)
    model_type, budget = _validate_metadata(model)
    if not model.dataset_id:
        raise invalid_field("model.dataset_id", "is required")
    if "/" in model.dataset_id:
        raise invalid_field(
            "model.dataset_id", "must be the dataset's ID (the last part of its name), not a resource name"
        )
    dataset_name = f"{parent}/datasets/{model.dataset_id}"
    dataset = datasets.get_dataset(store, dataset_name, "model.dataset_id")
    if dataset.example_count == 0:
        raise FailedPrecondition(f"Dataset {dataset_name} has no examples; import data before training.")
    base_value = base if base is not None else model.labels.get(BASE_MODEL_LABEL, "")
    base_name = base_model(store, parent, base_value, model_type, base_field) if base_value else ""
    model_name = f"{parent}/models/{names.new_id()}"
    job = TrainJob(
        model=model_name,
        dataset=dataset_name,
        display_name=model.display_name,
        model_type=model_type,
        budget=budget,
        create_time=now().ToJsonString(),
        labels=dict(model.labels),
        overrides=dict(trainer_overrides or {}),
        compare_to=model.labels.get(COMPARE_TO_LABEL, ""),
        base_model=base_name,
    )
    with store.tx() as db:
        op = operations.start(db, parent, model_name, "create_model_details")
        Store.insert_job(db, op.name, job)
        if record is not None:
            record(db, op, model_name)
    return op


def _model_filter(text: str):
    """ListModels's filter: `dataset_id=ID`, `dataset_id!=ID` or `image_object_detection_model_metadata:*`."""
    text = within_cap(text).strip()
    if not text or "".join(text.split()) == "image_object_detection_model_metadata:*":
        return lambda row, model: True
    usage = "use dataset_id=ID, dataset_id!=ID or image_object_detection_model_metadata:*"
    key, op, value = _one_term(text, ("dataset_id", "datasetId"), usage)
    return lambda row, model: (model.dataset_id == value) == (op == "=")


def _one_term(text: str, keys: tuple[str, ...], usage: str) -> tuple[str, str, str]:
    """The (key, op, id) of a filter of one `KEY=ID` or `KEY!=ID` term; INVALID_ARGUMENT naming `filter` for
    anything else (AND, OR, another key), which these lists do not serve."""
    terms = automl_terms(text)
    if len(terms) != 1 or terms[0][0] not in keys:
        raise invalid_field("filter", f"{text!r} is not supported; {usage}")
    key, op, value = terms[0]
    return key, op, id_value(key, value)


def list_models(store: Store, request):
    parent = names.parse_location(request.parent)
    items, token = page(
        store, KIND, parent, Model, request.page_size, request.page_token, _model_filter(request.filter)
    )
    response = t("ListModelsResponse")(next_page_token=token)
    response.model.extend(items)
    return response


def update_model(store: Store, request) -> Model:
    name = request.model.name
    names.parse_name(name, "models", "model.name")
    paths = mask_paths(request.update_mask, {"display_name", "labels"}, "display_name")
    with store.tx() as db:
        model = load_for_update(db, name, KIND, Model, "Model")
        check_etag(request.model.etag, model.etag, "model")
        apply_mask(model, request.model, paths, "model")
        _write(db, model)
    return model


def set_deployed(store: Store, name: str, deployed: bool) -> lro.Operation:
    names.parse_name(name, "models")
    with store.tx() as db:
        model = load_for_update(db, name, KIND, Model, "Model")
        model.deployment_state = DeploymentState.DEPLOYED if deployed else DeploymentState.UNDEPLOYED
        _write(db, model)
        details = "deploy_model_details" if deployed else "undeploy_model_details"
        return operations.done_now(db, names.location_of(name), name, details, Empty())


def _write(db: sqlite3.Connection, model: Model) -> None:
    """Store a model changed inside the transaction `db` (read with load_for_update)."""
    model.update_time.CopyFrom(now())
    bump_etag(model)
    Store.put_resource(db, model.name, KIND, names.location_of(model.name), model.SerializeToString())


def delete_model(store: Store, config: ServiceConfig, request) -> lro.Operation:
    model = get_model(store, request.name)
    with store.tx() as db:
        operations.refuse_if_busy(db, model.name, "Model")  # an export copying it
        db.execute("DELETE FROM resources WHERE name=? OR name LIKE ?", (model.name, model.name + "/%"))
        op = operations.done_now(db, names.location_of(model.name), model.name, "delete_details", Empty())
    shutil.rmtree(config.model_dir(names.parse_name(model.name, "models").id), ignore_errors=True)
    return op


def export_dir_name(model_format: str, display_name: str, when: dt.datetime) -> str:
    """AutoML's folder: model-export/iod/<format>-<display name>-<YYYY-MM-DDThh:mm:ss.sssZ>."""
    stamp = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return f"model-export/iod/{model_format}-{display_name}-{stamp}"


def export_model(store: Store, config: ServiceConfig, request) -> lro.Operation:
    names.parse_name(request.name, "models")
    out = request.output_config
    model_format = out.model_format or "tflite"
    if model_format not in EXPORT_FORMATS:
        raise invalid_field(
            "output_config.model_format",
            f"{model_format!r} is not one of {', '.join(EXPORT_FORMATS)} for object detection",
        )
    field = "output_config.gcs_destination.output_uri_prefix"
    prefix = out.gcs_destination.output_uri_prefix
    if not prefix.startswith("gs://"):
        raise invalid_field(field, f"{prefix!r} must be gs://BUCKET/…")
    base = config.outside_work_bucket(config.resolve_uri(prefix, field), prefix, field)
    model = get_model(store, request.name)  # the arguments are checked first
    dest = base / export_dir_name(model_format, model.display_name, dt.datetime.now(dt.UTC))
    refuse_object_in_the_way(config, dest)
    details = t("ExportModelOperationMetadata")()
    details.output_info.gcs_output_directory = config.to_gcs_uri(dest) + "/"
    job = ExportJob(model=model.name, format=model_format, dest=str(dest))
    with store.tx() as db:
        op = operations.start(db, names.location_of(model.name), model.name, "export_model_details", details)
        Store.insert_job(db, op.name, job)
    return op


def refuse_object_in_the_way(config: ServiceConfig, dest: Path) -> None:
    """Real GCS keeps an object and a prefix of the same name; a local storage root cannot, and an export
    under a file would fail in the worker as INTERNAL."""
    nearest = next(path for path in (dest, *dest.parents) if path.exists())
    if not nearest.is_dir():
        raise FailedPrecondition(
            f"{config.to_gcs_uri(nearest)} is an object in this service's storage root, which cannot also "
            "hold a prefix of that name (real GCS can): choose another output_uri_prefix."
        )


def get_model_evaluation(store: Store, request) -> ModelEvaluation:
    names.parse_name(request.name, "models", sub_collection="modelEvaluations")
    return load(store, request.name, EVALUATION_KIND, ModelEvaluation, "Model evaluation")


def _evaluation_filter(text: str):
    """ListModelEvaluations's filter: `annotation_spec_id=ID` or `annotation_spec_id!=ID`."""
    text = within_cap(text).strip()
    if not text:
        return lambda row, evaluation: True
    usage = "use annotation_spec_id=ID or annotation_spec_id!=ID"
    key, op, value = _one_term(text, ("annotation_spec_id", "annotationSpecId"), usage)
    return lambda row, evaluation: (evaluation.annotation_spec_id == value) == (op == "=")


def list_model_evaluations(store: Store, request):
    names.parse_name(request.parent, "models", "parent")
    keep = _evaluation_filter(request.filter)  # an argument: checked before the model is looked up
    model = get_model(store, request.parent, "parent")
    items, token = page(
        store, EVALUATION_KIND, model.name, ModelEvaluation, request.page_size, request.page_token, keep
    )
    response = t("ListModelEvaluationsResponse")(next_page_token=token)
    response.model_evaluation.extend(items)
    return response
