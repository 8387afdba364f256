"""Vertex AI requests and views, as pure functions over the official `google-cloud-aiplatform` types.

vertex_gateway.py makes the calls; this module builds what it sends (dataset, import configs, the AutoML image
object-detection training pipeline, export requests) and turns what comes back (training pipelines,
long-running operations, models) into the plain views of training_backend.py. The pipeline keeps AutoML v1's
spelling of model types and export formats everywhere else; the translation lives here, in both directions.
"""

from __future__ import annotations

from typing import Any

from google.cloud import aiplatform_v1
from google.longrunning import operations_pb2

from .resource_names import resource_id
from .training_backend import (
    CANCELLED_CODE,
    EXPORT,
    IMPORT,
    INTERNAL_CODE,
    OTHER,
    TRAINING,
    ModelView,
    OperationView,
)

# Google's published schema URIs (the same strings as google.cloud.aiplatform.schema, which imports the whole
# SDK; tests/pipeline/test_vertex_requests.py checks they agree).
IMAGE_DATASET_METADATA_SCHEMA = "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml"
BOUNDING_BOX_IMPORT_SCHEMA = (
    "gs://google-cloud-aiplatform/schema/dataset/ioformat/image_bounding_box_io_format_1.0.0.yaml"
)
OBJECT_DETECTION_TRAINING_DEFINITION = (
    "gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_image_object_detection_1.0.0.yaml"
)
IMPORT_SUFFIXES = (".csv", ".jsonl")  # Vertex reads the import file's form from its extension

MODEL_TYPES = {  # AutoML v1 spelling (config.MODEL_TYPES) -> Vertex modelType
    "mobile-low-latency-1": "MOBILE_TF_LOW_LATENCY_1",
    "mobile-versatile-1": "MOBILE_TF_VERSATILE_1",
    "mobile-high-accuracy-1": "MOBILE_TF_HIGH_ACCURACY_1",
}
EXPORT_FORMATS = {  # AutoML v1 spelling (config.EXPORT_FORMATS) -> Vertex export_format_id
    "tflite": "tflite",
    "tf_saved_model": "tf-saved-model",
    "tf_js": "tf-js",
}
_AUTOML_MODEL_TYPES = {vertex: automl for automl, vertex in MODEL_TYPES.items()}
_S = aiplatform_v1.PipelineState
TERMINAL_STATES = ("PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLED")
_TERMINAL = tuple(getattr(_S, name) for name in TERMINAL_STATES)
_METADATA_KINDS: dict[str, tuple[str, Any]] = {
    "ImportDataOperationMetadata": (IMPORT, aiplatform_v1.ImportDataOperationMetadata),
    "ExportModelOperationMetadata": (EXPORT, aiplatform_v1.ExportModelOperationMetadata),
}


def dataset(display_name: str) -> aiplatform_v1.Dataset:
    return aiplatform_v1.Dataset(display_name=display_name, metadata_schema_uri=IMAGE_DATASET_METADATA_SCHEMA)


def import_configs(input_uris: list[str]) -> list[aiplatform_v1.ImportDataConfig]:
    """One import config per file, in Vertex's image bounding-box schema (CSV or JSONL Lines)."""
    unknown = [uri for uri in input_uris if not uri.lower().endswith(IMPORT_SUFFIXES)]
    if unknown:
        raise ValueError(f"Vertex AI imports bounding boxes from .csv or .jsonl files: {', '.join(unknown)}")
    return [
        aiplatform_v1.ImportDataConfig(
            gcs_source=aiplatform_v1.GcsSource(uris=[uri]), import_schema_uri=BOUNDING_BOX_IMPORT_SCHEMA
        )
        for uri in input_uris
    ]


def training_pipeline(
    dataset_name: str,
    display_name: str,
    model_type: str,
    budget: int,
    labels: dict[str, str],
    base_model: str | None = None,
    disable_early_stopping: bool = False,
) -> aiplatform_v1.TrainingPipeline:
    """CreateTrainingPipeline's body: AutoML image object detection on the dataset, the model uploaded with
    the same display name and labels (reconciliation finds it by label). With base_model the training starts
    from that model (Vertex's uptrainBaseModelId: incremental training from a champion)."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    inputs: dict[str, Any] = {
        "modelType": MODEL_TYPES[model_type],
        "budgetMilliNodeHours": budget,
        "disableEarlyStopping": disable_early_stopping,
    }
    if base_model is not None:
        inputs["uptrainBaseModelId"] = resource_id(base_model)
    return aiplatform_v1.TrainingPipeline(
        display_name=display_name,
        input_data_config=aiplatform_v1.InputDataConfig(dataset_id=resource_id(dataset_name)),
        training_task_definition=OBJECT_DETECTION_TRAINING_DEFINITION,
        training_task_inputs=inputs,
        model_to_upload=aiplatform_v1.Model(display_name=display_name, labels=labels),
        labels=labels,
    )


def export_request(model: str, model_format: str, uri_prefix: str) -> aiplatform_v1.ExportModelRequest:
    if model_format not in EXPORT_FORMATS:
        raise ValueError(f"export format {model_format!r} is not one of {', '.join(EXPORT_FORMATS)}")
    return aiplatform_v1.ExportModelRequest(
        name=model,
        output_config=aiplatform_v1.ExportModelRequest.OutputConfig(
            export_format_id=EXPORT_FORMATS[model_format],
            artifact_destination=aiplatform_v1.GcsDestination(output_uri_prefix=uri_prefix),
        ),
    )


def unfinished_filter() -> str:
    """ListTrainingPipelines filter for pipelines that have not ended."""
    return " AND ".join(f'state!="{state}"' for state in TERMINAL_STATES)


# ---- views


def _number(value: Any) -> int:
    return int(float(value)) if value not in (None, "") else 0  # Struct numbers are floats, int64 strings


def _stop_reason(value: Any) -> str | None:
    if not value or str(value).endswith("UNSPECIFIED"):
        return None
    return str(value).upper().replace("-", "_")  # documented as MODEL_CONVERGED and as model-converged


def pipeline_model(pipeline: aiplatform_v1.TrainingPipeline) -> ModelView | None:
    """The model a succeeded pipeline uploaded, with the training's type, budget, cost and stop reason."""
    uploaded = pipeline.model_to_upload
    if not uploaded.name:
        return None
    inputs = dict(pipeline.training_task_inputs or {})
    vertex_type = str(inputs.get("modelType", ""))
    metadata = dict(pipeline.training_task_metadata or {})
    created = uploaded.create_time or pipeline.end_time or pipeline.create_time
    return ModelView(
        name=uploaded.name,
        display_name=uploaded.display_name or pipeline.display_name,
        dataset_id=pipeline.input_data_config.dataset_id,
        model_type=_AUTOML_MODEL_TYPES.get(vertex_type, vertex_type),
        budget_milli_node_hours=_number(inputs.get("budgetMilliNodeHours")),
        cost_milli_node_hours=_number(metadata.get("costMilliNodeHours")),
        stop_reason=_stop_reason(metadata.get("successfulStopReason")),
        labels=dict(uploaded.labels) or dict(pipeline.labels),
        create_time=created.isoformat() if created else None,
    )


def pipeline_view(pipeline: aiplatform_v1.TrainingPipeline) -> OperationView:
    """A training pipeline as the operation the poller follows (PIPELINE_STATE_* -> done and error code)."""
    state = pipeline.state
    kind = TRAINING if pipeline.training_task_definition == OBJECT_DETECTION_TRAINING_DEFINITION else OTHER
    if state not in _TERMINAL:
        return OperationView(name=pipeline.name, done=False, kind=kind, progress_percent=0)
    if state == _S.PIPELINE_STATE_SUCCEEDED:
        return OperationView(
            name=pipeline.name, done=True, kind=kind, progress_percent=100, model=pipeline_model(pipeline)
        )
    if state == _S.PIPELINE_STATE_CANCELLED:
        code = CANCELLED_CODE
    else:
        code = pipeline.error.code or INTERNAL_CODE
    message = pipeline.error.message or f"training pipeline ended in {state.name}"
    return OperationView(
        name=pipeline.name, done=True, kind=kind, progress_percent=0, error_code=code, error_message=message
    )


def operation_view(op: operations_pb2.Operation) -> OperationView:
    """An import or export long-running operation (raw protobuf) as an OperationView."""
    kind, metadata = OTHER, None
    type_name = op.metadata.type_url.rsplit(".", 1)[-1] if op.metadata.type_url else ""
    if type_name in _METADATA_KINDS:
        kind, message_type = _METADATA_KINDS[type_name]
        metadata = message_type.deserialize(op.metadata.value)
    export_dir = None
    if kind == EXPORT and metadata is not None:
        export_dir = metadata.output_info.artifact_output_uri or None
    failures = [s.message for s in metadata.generic_metadata.partial_failures] if metadata is not None else []
    failed = op.done and op.HasField("error")
    return OperationView(
        name=op.name,
        done=op.done,
        kind=kind,
        progress_percent=100 if op.done and not failed else 0,
        error_code=op.error.code if failed else 0,
        error_message=op.error.message if failed else "",
        export_directory=export_dir,
        partial_failures=failures,
    )
