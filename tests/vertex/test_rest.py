"""REST on the Vertex port: the official clients with transport="rest" (they poll operations under /ui/), and
curl-shaped requests as in Vertex's docs with only the host changed; Google's JSON error shape."""

from __future__ import annotations

import pytest
import requests
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1

from edgetrain_service.vertex import names

from .conftest import PARENT, State, import_config, pipeline_request, write_vertex_jsonl


def url(service, path: str) -> str:
    return f"{service.vertex_rest_url}/v1/{path}"


def test_official_rest_clients_create_import_and_read_pipelines_models_and_evaluations(
    rest, service, pipelines
):
    dataset = rest.datasets.create_dataset(
        parent=PARENT,
        dataset={"display_name": "rest cards", "metadata_schema_uri": names.IMAGE_DATASET_SCHEMA},
    ).result(timeout=30)
    uri = write_vertex_jsonl(service.storage_root, "rest_jsonl", ['{"imageGcsUri": 7}'])
    op = rest.datasets.import_data(name=dataset.name, import_configs=[import_config(uri)])
    op.result(timeout=300)  # polled through GET /ui/{name=…/datasets/*/operations/*}
    [failure] = op.metadata.generic_metadata.partial_failures
    assert failure.message == f"Error in {uri} line 9: the image must be a gs:// URI, not 7"
    assert rest.datasets.get_dataset(name=dataset.name).data_item_count == 8

    pipeline = rest.pipelines.get_training_pipeline(name=pipelines.succeeded.name)
    assert pipeline.state == State.PIPELINE_STATE_SUCCEEDED
    listed = rest.pipelines.list_training_pipelines(
        request={"parent": PARENT, "filter": 'state="PIPELINE_STATE_SUCCEEDED"'}
    )
    assert [p.name for p in listed] == [pipelines.succeeded.name]
    with pytest.raises(exceptions.BadRequest, match="budgetMilliNodeHours: 100001 is outside"):
        rest.pipelines.create_training_pipeline(
            parent=PARENT,
            training_pipeline=pipeline_request(
                dataset, "too much", "MOBILE_TF_VERSATILE_1", budgetMilliNodeHours=100_001
            ),
        )
    model_name = pipeline.model_to_upload.name
    assert rest.models.get_model(name=model_name).training_pipeline == pipeline.name
    [evaluation] = rest.models.list_model_evaluations(parent=model_name)
    assert evaluation.metrics_schema_uri == names.OBJECT_DETECTION_METRICS
    assert "boundingBoxMeanAveragePrecision" in evaluation.metrics


def test_curl_create_dataset_import_train_and_poll(service, pipelines):
    created = requests.post(
        url(service, f"{PARENT}/datasets"),
        json={"displayName": "curl cards", "metadataSchemaUri": names.IMAGE_DATASET_SCHEMA},
        timeout=30,
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["done"] is True
    assert (
        body["metadata"]["@type"]
        == "type.googleapis.com/google.cloud.aiplatform.v1.CreateDatasetOperationMetadata"
    )
    dataset = body["response"]
    assert dataset["@type"] == "type.googleapis.com/google.cloud.aiplatform.v1.Dataset"
    uri = write_vertex_jsonl(service.storage_root, "curl_jsonl")
    op = requests.post(
        url(service, f"{dataset['name']}:import"),
        json={
            "importConfigs": [
                {"gcsSource": {"uris": [uri]}, "importSchemaUri": names.BOUNDING_BOX_IMPORT_SCHEMA}
            ]
        },
        timeout=30,
    ).json()
    assert op["name"].startswith(f"{dataset['name']}/operations/")
    waited = requests.post(url(service, f"{op['name']}:wait"), json={"timeout": "120s"}, timeout=150).json()
    assert waited["done"] is True and "error" not in waited, waited
    assert waited["response"]["@type"] == "type.googleapis.com/google.cloud.aiplatform.v1.ImportDataResponse"
    assert requests.get(url(service, dataset["name"]), timeout=30).json()["dataItemCount"] == "8"

    refused = requests.post(
        url(service, f"{PARENT}/trainingPipelines"),
        json={
            "displayName": "curl",
            "trainingTaskDefinition": names.OBJECT_DETECTION_TRAINING,
            "trainingTaskInputs": {"modelType": "MOBILE_TF_VERSATILE_1", "budgetMilliNodeHours": 999},
            "inputDataConfig": {"datasetId": dataset["name"].rsplit("/", 1)[1]},
            "modelToUpload": {"displayName": "curl"},
        },
        timeout=30,
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    violation = error["details"][0]["fieldViolations"][0]
    assert violation["field"] == "training_pipeline.training_task_inputs.budgetMilliNodeHours"

    got = requests.get(url(service, pipelines.succeeded.name), timeout=30).json()
    assert got["state"] == "PIPELINE_STATE_SUCCEEDED" and got["modelToUpload"]["name"]
    ops = requests.get(
        url(service, f"{dataset['name']}/operations"), params={"filter": "done=true"}, timeout=30
    )
    assert {o["name"] for o in ops.json()["operations"]} >= {body["name"], op["name"]}


def test_the_vertex_port_does_not_serve_automl_paths_and_vice_versa(service):
    automl_body = {"displayName": "x", "imageObjectDetectionDatasetMetadata": {}}
    assert requests.post(url(service, f"{PARENT}/datasets"), json=automl_body, timeout=30).status_code == 400
    missing = requests.get(f"{service.rest_url}/v1/{PARENT}/trainingPipelines", timeout=30)
    assert missing.status_code == 404
    assert v1.Dataset  # the official types are what both transports speak
