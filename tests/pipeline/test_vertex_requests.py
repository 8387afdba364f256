"""What the Vertex AI gateway sends and how it reads what comes back, on the official aiplatform_v1 types (no
emulators, no service: the end-to-end run is test_integration_vertex.py)."""

from __future__ import annotations

import json

import pytest
from edgetrain_pipeline import vertex_requests as vr
from edgetrain_pipeline.evaluation import summarize_evaluation, summarize_vertex_metrics
from edgetrain_pipeline.training_backend import (
    CANCELLED_CODE,
    EXPORT,
    IMPORT,
    INTERNAL_CODE,
    OTHER,
    TRAINING,
)
from google.cloud import aiplatform_v1, automl_v1
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, json_format
from google.rpc import status_pb2

LOCATION = "projects/p/locations/us-central1"
DATASET = f"{LOCATION}/datasets/123"
MODEL = f"{LOCATION}/models/456"


def _wire(message) -> dict:
    """The JSON body the REST transport sends (camelCase), so tests read fields as Google documents them."""
    return json_format.MessageToDict(type(message).pb(message))


def test_schema_uris_are_googles_published_ones():
    from google.cloud.aiplatform import schema

    assert vr.IMAGE_DATASET_METADATA_SCHEMA == schema.dataset.metadata.image
    assert vr.BOUNDING_BOX_IMPORT_SCHEMA == schema.dataset.ioformat.image.bounding_box
    assert (
        vr.OBJECT_DETECTION_TRAINING_DEFINITION
        == schema.training_job.definition.automl_image_object_detection
    )


@pytest.mark.parametrize(
    ("model_type", "vertex_type"),
    [
        ("mobile-low-latency-1", "MOBILE_TF_LOW_LATENCY_1"),
        ("mobile-versatile-1", "MOBILE_TF_VERSATILE_1"),
        ("mobile-high-accuracy-1", "MOBILE_TF_HIGH_ACCURACY_1"),
    ],
)
def test_training_pipeline_is_automl_image_object_detection_in_vertex_spelling(model_type, vertex_type):
    labels = {"edgetrain-training": "tr-0123abcd"}
    pipeline = vr.training_pipeline(DATASET, "edgetrain_1", model_type, 2_500, labels)

    body = _wire(pipeline)
    assert body["trainingTaskDefinition"] == vr.OBJECT_DETECTION_TRAINING_DEFINITION
    assert body["trainingTaskInputs"] == {
        "modelType": vertex_type,
        "budgetMilliNodeHours": 2500,
        "disableEarlyStopping": False,
    }
    assert body["inputDataConfig"] == {"datasetId": "123"}
    assert body["modelToUpload"]["displayName"] == "edgetrain_1"
    assert body["modelToUpload"]["labels"] == labels and body["labels"] == labels
    # the definition validates the inputs as Google's schema type does
    from google.cloud.aiplatform.v1.schema.trainingjob import definition_v1

    inputs = definition_v1.AutoMlImageObjectDetectionInputs.from_json(json.dumps(body["trainingTaskInputs"]))
    assert inputs.model_type.name == vertex_type and inputs.budget_milli_node_hours == 2500


def test_retraining_from_a_champion_names_it_as_the_uptrain_base_model():
    pipeline = vr.training_pipeline(DATASET, "n", "mobile-versatile-1", 1_000, {}, base_model=MODEL)

    assert _wire(pipeline)["trainingTaskInputs"]["uptrainBaseModelId"] == "456"


def test_cloud_and_unknown_model_types_are_refused_before_any_call():
    with pytest.raises(ValueError, match="cloud-high-accuracy-1"):
        vr.training_pipeline(DATASET, "n", "cloud-high-accuracy-1", 1_000, {})


def test_import_uses_the_bounding_box_schema_for_csv_and_jsonl_and_refuses_the_rest():
    configs = vr.import_configs(["gs://b/a.csv", "gs://b/more.JSONL"])

    assert [list(c.gcs_source.uris) for c in configs] == [["gs://b/a.csv"], ["gs://b/more.JSONL"]]
    assert {c.import_schema_uri for c in configs} == {vr.BOUNDING_BOX_IMPORT_SCHEMA}
    with pytest.raises(ValueError, match="gs://b/images.zip"):
        vr.import_configs(["gs://b/a.csv", "gs://b/images.zip"])


@pytest.mark.parametrize(
    ("model_format", "format_id"),
    [("tflite", "tflite"), ("tf_saved_model", "tf-saved-model"), ("tf_js", "tf-js")],
)
def test_export_request_names_vertex_format_and_artifact_destination(model_format, format_id):
    body = _wire(vr.export_request(MODEL, model_format, "gs://exports/model-export/ds/tr/"))

    assert body == {
        "name": MODEL,
        "outputConfig": {
            "exportFormatId": format_id,
            "artifactDestination": {"outputUriPrefix": "gs://exports/model-export/ds/tr/"},
        },
    }
    with pytest.raises(ValueError, match="onnx"):
        vr.export_request(MODEL, "onnx", "gs://x/")


def test_unfinished_filter_excludes_exactly_the_terminal_states():
    text = vr.unfinished_filter()

    assert set(vr.TERMINAL_STATES) == {
        "PIPELINE_STATE_SUCCEEDED",
        "PIPELINE_STATE_FAILED",
        "PIPELINE_STATE_CANCELLED",
    }
    assert text.count("state!=") == 3 and text.count(" AND ") == 2
    assert all(f'state!="{state}"' in text for state in vr.TERMINAL_STATES)


def _pipeline(state: str, **fields) -> aiplatform_v1.TrainingPipeline:
    pipeline = vr.training_pipeline(
        DATASET, "edgetrain_1", "mobile-high-accuracy-1", 3_000, {"edgetrain-training": "tr-1"}
    )
    pipeline.name = f"{LOCATION}/trainingPipelines/789"
    pipeline.state = aiplatform_v1.PipelineState[state]
    for key, value in fields.items():
        setattr(pipeline, key, value)
    return aiplatform_v1.TrainingPipeline.deserialize(aiplatform_v1.TrainingPipeline.serialize(pipeline))


@pytest.mark.parametrize(
    "state",
    [
        "PIPELINE_STATE_QUEUED",
        "PIPELINE_STATE_PENDING",
        "PIPELINE_STATE_RUNNING",
        "PIPELINE_STATE_CANCELLING",
    ],
)
def test_a_pipeline_that_has_not_ended_is_a_running_training(state):
    view = vr.pipeline_view(_pipeline(state))

    assert view.kind == TRAINING and not view.done and view.name.endswith("/trainingPipelines/789")


def test_a_succeeded_pipeline_reports_its_model_cost_and_stop_reason_in_automl_terms():
    model = aiplatform_v1.Model(name=MODEL, display_name="edgetrain_1", labels={"edgetrain-training": "tr-1"})
    pipeline = _pipeline(
        "PIPELINE_STATE_SUCCEEDED",
        model_to_upload=model,
        training_task_metadata={"costMilliNodeHours": "1234", "successfulStopReason": "MODEL_CONVERGED"},
    )

    view = vr.pipeline_view(pipeline)

    assert view.succeeded and view.progress_percent == 100
    assert view.model is not None
    assert (view.model.name, view.model.dataset_id, view.model.model_type) == (
        MODEL,
        "123",
        "mobile-high-accuracy-1",
    )
    assert view.model.budget_milli_node_hours == 3_000 and view.model.cost_milli_node_hours == 1_234
    assert view.model.stop_reason == "MODEL_CONVERGED"
    assert view.model.labels == {"edgetrain-training": "tr-1"}


def test_failed_and_cancelled_pipelines_end_with_their_codes():
    failed = vr.pipeline_view(
        _pipeline("PIPELINE_STATE_FAILED", error=status_pb2.Status(code=3, message="no TRAIN images"))
    )
    silent = vr.pipeline_view(_pipeline("PIPELINE_STATE_FAILED"))
    cancelled = vr.pipeline_view(_pipeline("PIPELINE_STATE_CANCELLED"))

    assert failed.done and not failed.succeeded
    assert (failed.error_code, failed.error_message) == (3, "no TRAIN images")
    assert silent.error_code == INTERNAL_CODE and "PIPELINE_STATE_FAILED" in silent.error_message
    assert cancelled.cancelled and cancelled.error_code == CANCELLED_CODE
    assert failed.model is None and cancelled.model is None


def test_a_pipeline_of_another_kind_is_not_mistaken_for_a_training():
    pipeline = _pipeline("PIPELINE_STATE_RUNNING", training_task_definition="gs://x/custom_task_1.0.0.yaml")

    assert vr.pipeline_view(pipeline).kind == OTHER


def _operation(metadata, done: bool, error: status_pb2.Status | None = None) -> operations_pb2.Operation:
    packed = any_pb2.Any()
    packed.Pack(type(metadata).pb(metadata))
    op = operations_pb2.Operation(name=f"{DATASET}/operations/1", done=done, metadata=packed)
    if error is not None:
        op.error.CopyFrom(error)
    return op


def test_export_operation_reports_where_the_package_went():
    metadata = aiplatform_v1.ExportModelOperationMetadata(
        output_info={"artifact_output_uri": "gs://exports/model-export/model-456/tflite/2026-12-06/"}
    )

    running = vr.operation_view(_operation(metadata, done=False))
    done = vr.operation_view(_operation(metadata, done=True))

    assert running.kind == EXPORT and not running.done and running.progress_percent == 0
    assert done.succeeded and done.export_directory.endswith("/tflite/2026-12-06/")


def test_import_operation_reports_partial_failures_and_errors():
    metadata = aiplatform_v1.ImportDataOperationMetadata(
        generic_metadata={"partial_failures": [{"code": 3, "message": "row 7: box edge below 0.01"}]}
    )

    ok = vr.operation_view(_operation(metadata, done=True))
    failed = vr.operation_view(
        _operation(metadata, done=True, error=status_pb2.Status(code=3, message="bad"))
    )

    assert ok.kind == IMPORT and ok.succeeded and ok.partial_failures == ["row 7: box edge below 0.01"]
    assert failed.done and (failed.error_code, failed.error_message) == (3, "bad")


def _rounded(value):
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def test_vertex_metrics_summarize_like_the_same_automl_evaluation():
    points = [(0.2, 0.9, 0.6), (0.8, 0.4, 0.95)]
    automl = automl_v1.ModelEvaluation(
        image_object_detection_evaluation_metrics={
            "evaluated_bounding_box_count": 17,
            "bounding_box_mean_average_precision": 0.6,
            "bounding_box_metrics_entries": [
                {
                    "iou_threshold": iou,
                    "mean_average_precision": value,
                    "confidence_metrics_entries": [
                        {"confidence_threshold": c, "recall": r, "precision": p} for c, r, p in points
                    ],
                }
                for iou, value in ((0.5, 0.8), (0.75, 0.4))
            ],
        }
    )
    vertex = aiplatform_v1.ModelEvaluation(
        metrics={
            "evaluatedBoundingBoxCount": 17,
            "boundingBoxMeanAveragePrecision": 0.6,
            "boundingBoxMetrics": [
                {
                    "iouThreshold": iou,
                    "meanAveragePrecision": value,
                    "confidenceMetrics": [
                        {"confidenceThreshold": c, "recall": r, "precision": p} for c, r, p in points
                    ],
                }
                for iou, value in ((0.75, 0.4), (0.5, 0.8))
            ],
        }
    )

    summary = summarize_vertex_metrics(aiplatform_v1.ModelEvaluation.to_dict(vertex)["metrics"])

    assert _rounded(summary) == _rounded(summarize_evaluation(automl))  # AutoML's floats are 32-bit
    assert summary["meanAveragePrecisionAt50"] == pytest.approx(0.8)
    assert summary["evaluatedBoundingBoxCount"] == 17 and summary["curves"][0]["recall"] == [0.9, 0.4]
