"""REST: Google's curl calls with only the host changed, and the official client with transport="rest"."""

from __future__ import annotations

import base64

import pytest
import requests
from google.api_core import exceptions

from .conftest import CARDS, PARENT


def url(service, path: str) -> str:
    return f"{service.rest_url}/v1/{path}"


def listed_operations(service, filter_: str) -> list[str]:
    """Every page of ListOperations over REST: a page may end early (a few MiB), with a token for the rest."""
    names, token = [], ""
    while True:
        page = requests.get(
            url(service, f"{PARENT}/operations"), params={"filter": filter_, "pageToken": token}, timeout=30
        ).json()
        names += [o["name"] for o in page["operations"]]
        token = page.get("nextPageToken", "")
        if not token:
            return names


def test_curl_create_dataset_import_and_poll(service, cards_uri):
    response = requests.post(
        url(service, f"{PARENT}/datasets"),
        json={"displayName": "curl_cards", "imageObjectDetectionDatasetMetadata": {}},
        timeout=30,
    )
    assert response.status_code == 200
    created = response.json()
    assert created["done"] is True
    dataset = created["response"]
    assert dataset["@type"] == "type.googleapis.com/google.cloud.automl.v1.Dataset"
    assert dataset["displayName"] == "curl_cards" and "createTime" in dataset
    op = requests.post(
        url(service, f"{dataset['name']}:importData"),
        json={"inputConfig": {"gcsSource": {"inputUris": [cards_uri]}}},
        timeout=30,
    ).json()
    assert op["name"].startswith(f"{PARENT}/operations/IOD")
    assert op["metadata"]["@type"] == "type.googleapis.com/google.cloud.automl.v1.OperationMetadata"
    assert "importDataDetails" in op["metadata"]
    waited = requests.post(url(service, f"{op['name']}:wait"), json={"timeout": "120s"}, timeout=150).json()
    assert waited["done"] is True and "error" not in waited
    assert op["name"] in listed_operations(service, "done=true")
    fetched = requests.get(url(service, dataset["name"]), timeout=30).json()
    assert fetched["exampleCount"] == 24


def test_curl_model_fields_use_camel_case_and_int64_strings(service, trainings):
    model = requests.get(url(service, trainings.low_latency.name), timeout=30).json()
    meta = model["imageObjectDetectionModelMetadata"]
    assert meta["trainBudgetMilliNodeHours"] == "1000"  # int64 as a JSON string
    assert isinstance(meta["trainCostMilliNodeHours"], str)
    assert meta["nodeQps"] == -1
    assert model["deploymentState"] == "DEPLOYED"
    assert meta["stopReason"] in ("MODEL_CONVERGED", "BUDGET_REACHED")
    evaluations = requests.get(url(service, f"{model['name']}/modelEvaluations"), timeout=30).json()
    assert evaluations["modelEvaluation"][0]["imageObjectDetectionEvaluationMetrics"]


def test_curl_errors_use_google_json_shape(service, dataset):
    response = requests.post(
        url(service, f"{PARENT}/models"),
        json={
            "displayName": "bad_budget",
            "datasetId": dataset.name.rsplit("/", 1)[1],
            "imageObjectDetectionModelMetadata": {"trainBudgetMilliNodeHours": "100001"},
        },
        timeout=30,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert "trainBudgetMilliNodeHours" in error["message"]
    missing = requests.get(url(service, f"{PARENT}/models/IOD404"), timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize("method", ["PATCH", "PUT", "TRACE"])
def test_a_method_not_served_on_a_known_path_is_a_404(service, dataset, method):
    """As docs/service.md says (and Google's REST front end answers): found by probing, these were 400s."""
    response = requests.request(method, url(service, f"{dataset.name}:importData"), timeout=30)
    assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"
    assert f"{method} is not served on" in response.json()["error"]["message"]


def test_curl_cancel_returns_empty_object(service, dataset):
    op = requests.post(
        url(service, f"{PARENT}/models"),
        json={
            "displayName": "to_cancel",
            "datasetId": dataset.name.rsplit("/", 1)[1],
            "imageObjectDetectionModelMetadata": {"modelType": "mobile-low-latency-1"},
        },
        timeout=30,
    ).json()
    response = requests.post(url(service, f"{op['name']}:cancel"), json={}, timeout=30)
    assert response.status_code == 200 and response.json() == {}
    waited = requests.post(url(service, f"{op['name']}:wait"), json={"timeout": "300s"}, timeout=330).json()
    assert waited["done"] is True and waited["error"]["code"] == 1
    assert requests.delete(url(service, op["name"]), timeout=30).json() == {}
    assert requests.get(url(service, op["name"]), timeout=30).status_code == 404


def test_rest_client_flow(rest, trainings, dataset):
    assert rest.get_dataset(name=dataset.name).example_count == 24
    model = rest.get_model(name=trainings.low_latency.name)
    assert model.image_object_detection_model_metadata.train_budget_milli_node_hours == 1000
    assert trainings.low_latency.name in [m.name for m in rest.list_models(parent=PARENT)]
    ops = list(rest.transport.operations_client.list_operations(PARENT, filter_="done=true"))
    assert ops and all(op.done for op in ops)
    # Over REST, api-core maps HTTP 400 to BadRequest (InvalidArgument is its gRPC-side subclass).
    with pytest.raises(exceptions.BadRequest, match="trainBudgetMilliNodeHours"):
        rest.create_model(
            parent=PARENT,
            model={
                "display_name": "x",
                "dataset_id": dataset.name.rsplit("/", 1)[1],
                "image_object_detection_model_metadata": {"train_budget_milli_node_hours": 999},
            },
        )
    with pytest.raises(exceptions.NotFound):
        rest.get_dataset(name=f"{PARENT}/datasets/IOD1")


def test_rest_client_long_running_create_dataset_and_import(rest, cards_uri):
    created = rest.create_dataset(
        parent=PARENT, dataset={"display_name": "rest_created", "image_object_detection_dataset_metadata": {}}
    ).result(timeout=30)
    assert created.display_name == "rest_created"
    imported = rest.import_data(name=created.name, input_config={"gcs_source": {"input_uris": [cards_uri]}})
    imported.result(timeout=120)  # polls GetOperation over REST until done
    assert imported.metadata.progress_percent == 100
    assert rest.get_dataset(name=created.name).example_count == 24
    rest.delete_dataset(name=created.name).result(timeout=30)
    with pytest.raises(exceptions.NotFound):
        rest.get_dataset(name=created.name)


def test_curl_quoted_filter_as_in_googles_docs(service, trainings):
    assert set(trainings.operations) <= set(listed_operations(service, '"done=true"'))
    bad = requests.get(url(service, f"{PARENT}/operations"), params={"filter": "colour=blue"}, timeout=30)
    assert bad.status_code == 400 and "filter" in bad.json()["error"]["message"]


def test_curl_predict(service, trainings):
    image = base64.b64encode((CARDS / "images" / "IMG_2383.JPG").read_bytes()).decode()
    response = requests.post(
        url(service, f"{trainings.low_latency.name}:predict"),
        timeout=60,
        json={
            "payload": {"image": {"imageBytes": image}},
            "params": {"score_threshold": "0", "max_bounding_box_count": "1"},
        },
    )
    assert response.status_code == 200
    payload = response.json()["payload"]
    assert len(payload) == 1
    assert len(payload[0]["imageObjectDetection"]["boundingBox"]["normalizedVertices"]) == 2
    garbage = requests.post(
        url(service, f"{trainings.low_latency.name}:predict"),
        timeout=60,
        json={"payload": {"image": {"imageBytes": base64.b64encode(b"not an image").decode()}}},
    )
    assert garbage.status_code == 400 and "image_bytes" in garbage.json()["error"]["message"]
