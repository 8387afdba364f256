"""AutoML resources as Vertex sees them: Dataset, Model and ModelEvaluation, converted on every read."""

from __future__ import annotations

from google.protobuf import json_format, struct_pb2

from ..protos import Dataset as AutoMlDataset
from ..protos import Model as AutoMlModel
from ..protos import ModelEvaluation as AutoMlEvaluation
from . import names

# AutoML's metric names -> Vertex's (schema image_object_detection_metrics_1.0.0)
_METRIC_KEYS = {
    "boundingBoxMetricsEntries": "boundingBoxMetrics",
    "confidenceMetricsEntries": "confidenceMetrics",
}


def dataset_view(dataset: AutoMlDataset):
    out = names.t("Dataset")(
        name=dataset.name,
        display_name=dataset.display_name,
        description=dataset.description,
        metadata_schema_uri=names.IMAGE_DATASET_SCHEMA,
        data_item_count=dataset.example_count,
        create_time=dataset.create_time,
        update_time=dataset.create_time,
        etag=dataset.etag,
    )
    out.metadata.struct_value.update({"dataItemSchemaUri": names.IMAGE_DATA_ITEM_SCHEMA})
    out.labels.update(dataset.labels)
    return out


def model_view(model: AutoMlModel, pipeline=None):
    """`pipeline`: the TrainingPipeline that trained it, if it was trained through the Vertex surface."""
    out = names.t("Model")(
        name=model.name,
        version_id="1",
        display_name=model.display_name,
        create_time=model.create_time,
        update_time=model.update_time,
        version_create_time=model.create_time,
        version_update_time=model.update_time,
        etag=model.etag,
    )
    out.version_aliases.append("default")
    out.labels.update(model.labels)
    for format_id in names.EXPORT_FORMATS:
        exportable = out.supported_export_formats.add(id=format_id)
        exportable.exportable_contents.append(names.t("Model").ExportFormat.ExportableContent.ARTIFACT)
    for key, uri in names.PREDICT_SCHEMATA.items():
        setattr(out.predict_schemata, key, uri)
    out.model_source_info.source_type = names.t("ModelSourceInfo").ModelSourceType.AUTOML
    if pipeline is not None:
        out.training_pipeline = pipeline.name
        out.description = pipeline.model_to_upload.description
    return out


def evaluation_view(evaluation: AutoMlEvaluation):
    """The overall AutoML evaluation as a Vertex ModelEvaluation (per-label ones are Vertex slices)."""
    model_name = evaluation.name.split("/modelEvaluations/")[0]
    metrics = json_format.MessageToDict(
        evaluation.image_object_detection_evaluation_metrics, always_print_fields_with_no_presence=True
    )
    out = names.t("ModelEvaluation")(
        name=f"{model_name}/evaluations/{evaluation.name.rsplit('/', 1)[1]}",
        display_name=evaluation.display_name,  # compared-to:ID marks a compared model's (comparison.py)
        metrics_schema_uri=names.OBJECT_DETECTION_METRICS,
        create_time=evaluation.create_time,
        data_item_schema_uri=names.IMAGE_DATA_ITEM_SCHEMA,
        annotation_schema_uri=names.BOUNDING_BOX_ANNOTATION_SCHEMA,
    )
    out.slice_dimensions.append("annotationSpec")
    out.metrics.struct_value.update(_rename(metrics))
    return out


def slice_view(evaluation_name: str, evaluation: AutoMlEvaluation, label: str):
    """A per-label AutoML evaluation as a slice (dimension annotationSpec, value: the label's display name)
    of the Vertex evaluation `evaluation_name`."""
    metrics = json_format.MessageToDict(
        evaluation.image_object_detection_evaluation_metrics, always_print_fields_with_no_presence=True
    )
    out = names.t("ModelEvaluationSlice")(
        name=f"{evaluation_name}/slices/{evaluation.name.rsplit('/', 1)[1]}",
        metrics_schema_uri=names.OBJECT_DETECTION_METRICS,
        create_time=evaluation.create_time,
    )
    out.slice_.dimension = "annotationSpec"
    out.slice_.value = label
    out.metrics.struct_value.update(_rename(metrics))
    return out


def _rename(value):
    if isinstance(value, dict):
        return {_METRIC_KEYS.get(key, key): _rename(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rename(item) for item in value]
    return value


def struct(values: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out
