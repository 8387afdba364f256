"""ModelService: GetModel, ListModels, DeleteModel, ExportModel, ListModelEvaluations, GetModelEvaluation and
ListModelEvaluationSlices (an evaluation's per-label figures).

Models are the AutoML models the trainer produced (same ids); ExportModel runs the AutoML export job, so
`tflite` writes the very package that was trained and evaluated.
"""

from __future__ import annotations

from .. import models as automl
from ..comparison import label_of
from ..config import ServiceConfig
from ..errors import InvalidArgument, NotFound, invalid_field
from ..protos import Model as AutoMlModel
from ..protos import ModelEvaluation as AutoMlEvaluation
from ..protos import t as automl_t
from ..resources import load, page
from ..store import Store
from . import names, operations
from .filters import listed_by_display_name, refuse_unserved
from .pipelines import KIND as PIPELINE_KIND
from .views import evaluation_view, model_view, slice_view


def _view(store: Store, model: AutoMlModel):
    row = store.query_one("SELECT proto FROM resources WHERE kind=? AND label=?", (PIPELINE_KIND, model.name))
    pipeline = names.t("TrainingPipeline").FromString(row["proto"]) if row else None
    return model_view(model, pipeline)


def get_model(store: Store, request):
    names.resource(request.name, "models")
    return _view(store, automl.get_model(store, request.name))


def list_models(store: Store, request):
    items, token = listed_by_display_name(store, request, automl.KIND, AutoMlModel)
    response = names.t("ListModelsResponse")(next_page_token=token)
    response.models.extend(_view(store, model) for model in items)
    return response


def delete_model(store: Store, config: ServiceConfig, request):
    names.resource(request.name, "models")
    inner = automl.delete_model(store, config, automl_t("DeleteModelRequest")(name=request.name))
    with store.tx() as db:
        name = operations.record(db, request.name, inner.name, "delete")
    return operations.view(store, operations.find(store, name))


def export_model(store: Store, config: ServiceConfig, request):
    names.resource(request.name, "models")
    out = request.output_config
    format_id = out.export_format_id
    if format_id not in names.EXPORT_FORMATS:
        served = ", ".join(names.EXPORT_FORMATS)
        why = "is not served by this service" if format_id in names.UNSERVED_EXPORT_FORMATS else "is unknown"
        raise invalid_field("output_config.export_format_id", f"{format_id!r} {why}; use one of {served}")
    if out.HasField("image_destination"):
        raise invalid_field("output_config.image_destination", "is not supported: models export as artifacts")
    prefix = out.artifact_destination.output_uri_prefix
    if not prefix.startswith("gs://"):
        raise invalid_field(
            "output_config.artifact_destination.output_uri_prefix", f"{prefix!r} must be gs://BUCKET/…"
        )
    automl_request = automl_t("ExportModelRequest")(name=request.name)
    automl_request.output_config.model_format = names.EXPORT_FORMATS[format_id]
    automl_request.output_config.gcs_destination.output_uri_prefix = prefix
    automl_field, field = (
        "output_config.gcs_destination.output_uri_prefix",
        "output_config.artifact_destination",
    )
    try:
        inner = automl.export_model(store, config, automl_request)
    except InvalidArgument as error:  # name Vertex's field, not AutoML's
        if error.field != automl_field:
            raise
        raise InvalidArgument(
            error.message.replace(automl_field, field + ".output_uri_prefix"), field
        ) from error
    with store.tx() as db:
        name = operations.record(db, request.name, inner.name, "export")
    return operations.view(store, operations.find(store, name))


def list_model_evaluations(store: Store, request):
    names.resource(request.parent, "models", "parent")
    model = automl.get_model(store, request.parent, "parent")
    refuse_unserved(request, ("filter", "read_mask"))
    items, token = page(
        store,
        automl.EVALUATION_KIND,
        model.name,
        AutoMlEvaluation,
        request.page_size,
        request.page_token,
        lambda row, evaluation: not evaluation.annotation_spec_id,  # per-label ones are Vertex slices
    )
    response = names.t("ListModelEvaluationsResponse")(next_page_token=token)
    response.model_evaluations.extend(evaluation_view(e) for e in items)
    return response


def _overall_evaluation(store: Store, name: str, field: str = "name") -> tuple[str, AutoMlEvaluation]:
    """(model name, the AutoML overall evaluation) of a Vertex evaluation name."""
    model_name = names.evaluation(name, field)
    evaluation = load(
        store,
        f"{model_name}/modelEvaluations/{name.rsplit('/', 1)[1]}",
        automl.EVALUATION_KIND,
        AutoMlEvaluation,
        "Model evaluation",
    )
    if evaluation.annotation_spec_id:
        raise NotFound(f"Model evaluation {name} not found.")
    return model_name, evaluation


def get_model_evaluation(store: Store, request):
    return evaluation_view(_overall_evaluation(store, request.name)[1])


def list_model_evaluation_slices(store: Store, request):
    """The per-label evaluations that go with an overall one (a compared model's with its own: comparison.py),
    as slices."""
    model_name, overall = _overall_evaluation(store, request.parent, "parent")
    refuse_unserved(request, ("filter", "read_mask"))
    items, token = page(
        store,
        automl.EVALUATION_KIND,
        model_name,
        AutoMlEvaluation,
        request.page_size,
        request.page_token,
        lambda row, evaluation: label_of(overall.display_name, evaluation) is not None,
    )
    response = names.t("ListModelEvaluationSlicesResponse")(next_page_token=token)
    response.model_evaluation_slices.extend(
        slice_view(request.parent, e, label_of(overall.display_name, e) or "") for e in items
    )
    return response
