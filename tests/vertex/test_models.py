"""ModelService through the official client over gRPC: the trained model, its evaluation in Vertex's image
object-detection metrics schema, ExportModel (tflite: the very package the AutoML export writes, with the
same contract checks), refusals and delete."""

from __future__ import annotations

import json

import numpy as np
import pytest
from google.api_core import exceptions
from google.cloud import automl_v1

from edgetrain_service.vertex import names
from edgetrain_trainer.export.tflite_detector import TFLiteDetector
from tests.service.conftest import CARDS
from tests.service.conftest import grpc_clients as automl_clients

from .conftest import PARENT


@pytest.fixture(scope="module")
def model_name(pipelines) -> str:
    return pipelines.succeeded.model_to_upload.name


def test_the_trained_model_says_what_vertex_says(clients, pipelines, model_name):
    model = clients.models.get_model(name=model_name)
    assert model.display_name == "cards_low_latency"
    assert model.training_pipeline == pipelines.succeeded.name
    assert set(model.labels) == {"suite", "edgetrain-test-images", "edgetrain-latency-us"}
    assert model.labels["suite"] == "vertex"
    assert {f.id for f in model.supported_export_formats} == {"tflite", "tf-saved-model"}
    assert model.predict_schemata.instance_schema_uri.endswith("image_object_detection_1.0.0.yaml")
    assert model.version_id == "1"
    assert model_name in {
        m.name
        for m in clients.models.list_models(
            request={"parent": PARENT, "filter": 'display_name="cards_low_latency"'}
        )
    }
    assert model_name not in {
        m.name
        for m in clients.models.list_models(request={"parent": PARENT, "filter": 'labels.suite!="vertex"'})
    }


def test_evaluation_in_the_image_object_detection_metrics_schema(clients, model_name):
    [evaluation] = clients.models.list_model_evaluations(parent=model_name)
    assert evaluation.name.startswith(f"{model_name}/evaluations/")
    assert evaluation.metrics_schema_uri == names.OBJECT_DETECTION_METRICS
    metrics = evaluation.metrics
    assert set(metrics) == {
        "boundingBoxMeanAveragePrecision",
        "boundingBoxMetrics",
        "evaluatedBoundingBoxCount",
    }
    assert metrics["evaluatedBoundingBoxCount"] > 0
    assert 0 <= metrics["boundingBoxMeanAveragePrecision"] <= 1
    entry = metrics["boundingBoxMetrics"][0]
    assert {"iouThreshold", "meanAveragePrecision", "confidenceMetrics"} <= set(entry)
    assert {"confidenceThreshold", "recall", "precision"} <= set(entry["confidenceMetrics"][0])
    assert clients.models.get_model_evaluation(name=evaluation.name).metrics == metrics
    with pytest.raises(exceptions.NotFound):
        clients.models.get_model_evaluation(name=f"{model_name}/evaluations/404")


def _export(clients, model_name: str, format_id: str, prefix: str = "gs://test-bucket/vertex-exports"):
    return clients.models.export_model(
        name=model_name,
        output_config={"export_format_id": format_id, "artifact_destination": {"output_uri_prefix": prefix}},
    )


def test_export_tflite_is_the_automl_package_and_passes_its_contract(clients, service, model_name):
    op = _export(clients, model_name, "tflite")
    op.result(timeout=300)
    assert op.operation.name.startswith(f"{model_name}/operations/")
    uri = op.metadata.output_info.artifact_output_uri
    assert uri.startswith("gs://test-bucket/vertex-exports/model-export/iod/tflite-cards_low_latency-")
    folder = service.storage_root / uri[len("gs://") :]
    files = {p.name for p in folder.iterdir()}
    assert {"model.tflite", "dict.txt", "tflite_metadata.json"} <= files
    labels = (folder / "dict.txt").read_text().splitlines()
    metadata = json.loads((folder / "tflite_metadata.json").read_text())
    assert metadata["labels"] == labels and metadata["modelType"] == "mobile-low-latency-1"
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    interpreter = Interpreter(model_path=str(folder / "model.tflite"), num_threads=1)
    interpreter.allocate_tensors()
    [image] = interpreter.get_input_details()
    assert image["dtype"] == np.uint8 and image["shape"].tolist() == metadata["inputShape"]
    assert len(interpreter.get_output_details()) == 4  # boxes, classes, scores, count
    assert "TFLite_Detection_PostProcess" in {d["op_name"] for d in interpreter._get_ops_details()}
    found = TFLiteDetector(folder).detect(Image.open(CARDS / "images" / "IMG_2383.JPG"))
    assert found.boxes.shape[1] == 4 and len(found.scores) == len(found.classes)

    automl = automl_clients(service.grpc_target)[0]
    automl_op = automl.export_model(
        name=model_name,
        output_config={
            "model_format": "tflite",
            "gcs_destination": {"output_uri_prefix": "gs://test-bucket/automl"},
        },
    )
    automl_op.result(timeout=300)
    automl_folder = automl_op.metadata.export_model_details.output_info.gcs_output_directory
    same = service.storage_root / automl_folder[len("gs://") :] / "model.tflite"
    assert same.read_bytes() == (folder / "model.tflite").read_bytes()
    assert isinstance(automl.get_model(name=model_name), automl_v1.Model)  # one model, both surfaces


def test_export_tf_saved_model(clients, service, model_name):
    op = _export(clients, model_name, "tf-saved-model")
    op.result(timeout=300)
    uri = op.metadata.output_info.artifact_output_uri
    assert "/model-export/iod/tf_saved_model-cards_low_latency-" in uri
    assert (service.storage_root / uri[len("gs://") :] / "saved_model.pb").is_file()


@pytest.mark.parametrize(
    ("format_id", "prefix", "field"),
    [
        ("edgetpu-tflite", "gs://test-bucket/x", "output_config.export_format_id"),
        ("core_ml", "gs://test-bucket/x", "output_config.export_format_id"),
        ("tflite", "/tmp/x", "output_config.artifact_destination.output_uri_prefix"),
        ("tflite", "gs://test-bucket/../../outside", "output_config.artifact_destination.output_uri_prefix"),
        (  # the service's own work bucket: its start deletes the files there
            "tflite",
            "gs://goog-edgetrain-vertex-imports/e/",
            "output_config.artifact_destination.output_uri_prefix",
        ),
    ],
)
def test_unserved_exports_are_refused_naming_the_field(clients, model_name, format_id, prefix, field):
    with pytest.raises(exceptions.InvalidArgument) as raised:
        _export(clients, model_name, format_id, prefix)
    assert field in raised.value.message


@pytest.mark.deletes_the_session_model
def test_delete_model(clients, pipelines, model_name):
    op = clients.models.delete_model(name=model_name)
    op.result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        clients.models.get_model(name=model_name)
    # the pipeline still names the model it uploaded, as Vertex's does
    assert (
        clients.pipelines.get_training_pipeline(name=pipelines.succeeded.name).model_to_upload.name
        == model_name
    )
