"""Vertex AI names, schema URIs and spellings, and how they map onto the store.

Datasets and models keep the store's ids: `projects/P/locations/L/datasets/IOD…` is the same dataset on the
AutoML and the Vertex surface. A training pipeline's id is the id of the AutoML CreateModel operation that
runs it. Vertex operations are named under the resource they work on
(`…/datasets/D/operations/O`, `…/models/M/operations/O`, `…/trainingPipelines/T/operations/O`), so they never
collide with AutoML's `projects/P/locations/L/operations/O` on the shared google.longrunning service.
"""

from __future__ import annotations

import re

from google.cloud import aiplatform_v1

from ..errors import invalid_field

_SCHEMA = "gs://google-cloud-aiplatform/schema/"
IMAGE_DATASET_SCHEMA = _SCHEMA + "dataset/metadata/image_1.0.0.yaml"
IMAGE_DATA_ITEM_SCHEMA = _SCHEMA + "dataset/dataitem/image_1.0.0.yaml"
BOUNDING_BOX_IMPORT_SCHEMA = _SCHEMA + "dataset/ioformat/image_bounding_box_io_format_1.0.0.yaml"
BOUNDING_BOX_ANNOTATION_SCHEMA = _SCHEMA + "dataset/annotation/image_bounding_box_1.0.0.yaml"
OBJECT_DETECTION_TRAINING = _SCHEMA + "trainingjob/definition/automl_image_object_detection_1.0.0.yaml"
OBJECT_DETECTION_METRICS = _SCHEMA + "modelevaluation/image_object_detection_metrics_1.0.0.yaml"
PREDICT_SCHEMATA = {
    "instance_schema_uri": _SCHEMA + "predict/instance/image_object_detection_1.0.0.yaml",
    "parameters_schema_uri": _SCHEMA + "predict/params/image_object_detection_1.0.0.yaml",
    "prediction_schema_uri": _SCHEMA + "predict/prediction/image_object_detection_1.0.0.yaml",
}

# Vertex's spelling -> the trainer's (AutoML v1) model type
MODEL_TYPES = {
    "MOBILE_TF_LOW_LATENCY_1": "mobile-low-latency-1",
    "MOBILE_TF_VERSATILE_1": "mobile-versatile-1",
    "MOBILE_TF_HIGH_ACCURACY_1": "mobile-high-accuracy-1",
}
VERTEX_MODEL_TYPES = {automl: vertex for vertex, automl in MODEL_TYPES.items()}
CLOUD_MODEL_TYPES = ("CLOUD_HIGH_ACCURACY_1", "CLOUD_LOW_LATENCY_1", "CLOUD_1")
# Vertex export_format_id -> the AutoML model_format the export job writes
EXPORT_FORMATS = {"tflite": "tflite", "tf-saved-model": "tf_saved_model"}
UNSERVED_EXPORT_FORMATS = ("edgetpu-tflite", "tf-js", "core-ml", "custom-trained")

DATASET_SERVICE = "google.cloud.aiplatform.v1.DatasetService"
PIPELINE_SERVICE = "google.cloud.aiplatform.v1.PipelineService"
MODEL_SERVICE = "google.cloud.aiplatform.v1.ModelService"

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_LOCATION = rf"projects/{_SEGMENT}/locations/{_SEGMENT}"
_RESOURCE = re.compile(rf"^({_LOCATION})/(datasets|models|trainingPipelines)/({_SEGMENT})$")
_EVALUATION = re.compile(rf"^({_LOCATION}/models/{_SEGMENT})/evaluations/({_SEGMENT})$")
_OPERATION = re.compile(
    rf"^({_LOCATION}/(?:datasets|models|trainingPipelines)/{_SEGMENT})/operations/({_SEGMENT})$"
)
_RESOURCE_WITH_OPS = re.compile(rf"^{_LOCATION}/(datasets|models|trainingPipelines)/{_SEGMENT}$")


def t(type_name: str):
    """The protobuf class of a google.cloud.aiplatform.v1 type, by name (e.g. "TrainingPipeline")."""
    return getattr(aiplatform_v1.types, type_name).pb()


def resource(value: str, collection: str, field: str = "name") -> tuple[str, str]:
    """(location, id) of `projects/P/locations/L/<collection>/ID`; anything else is INVALID_ARGUMENT."""
    match = _RESOURCE.match(value or "")
    if not match or match.group(2) != collection:
        raise invalid_field(
            field, f"{value!r} is not a valid name (projects/PROJECT/locations/LOCATION/{collection}/ID)"
        )
    return match.group(1), match.group(3)


def evaluation(value: str, field: str = "name") -> str:
    """The model name of `…/models/M/evaluations/E`."""
    match = _EVALUATION.match(value or "")
    if not match:
        raise invalid_field(
            field, f"{value!r} is not a valid name (projects/P/locations/L/models/M/evaluations/E)"
        )
    return match.group(1)


def is_operation(name: str) -> bool:
    """True for a Vertex operation name (one nested under a dataset, model or training pipeline)."""
    return bool(_OPERATION.match(name or ""))


def is_operations_parent(name: str) -> bool:
    """True for the `name` of a Vertex ListOperations (a dataset, model or training pipeline)."""
    return bool(_RESOURCE_WITH_OPS.match(name or ""))


def operation_name(resource_name: str, op_id: str) -> str:
    return f"{resource_name}/operations/{op_id}"


def operation_parent(name: str, field: str = "name") -> str:
    match = _OPERATION.match(name or "")
    if not match:
        raise invalid_field(field, f"{name!r} is not a Vertex operation name (…/datasets/D/operations/O)")
    return match.group(1)


def validate_display_name(value: str, field: str) -> str:
    """Vertex's rule for datasets and training pipelines: 1–128 UTF-8 characters."""
    if not value or len(value) > 128:
        raise invalid_field(field, f"{value!r} must be 1-128 characters")
    return value
