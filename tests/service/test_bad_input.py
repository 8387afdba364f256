"""Bad input gets a clear, specific error and loses nothing: bad CSV rows, unknown ids, hostile names,
paths outside the storage root, and the bearer token."""

from __future__ import annotations

import grpc
import pytest
import requests
from google.api_core import exceptions
from google.longrunning import operations_pb2

from edgetrain_service.process import ServiceProcess

from .conftest import BUCKET, PARENT, create_dataset, create_imported_dataset, grpc_clients, import_files


def _write_csv(service, name: str, lines: list[str]) -> str:
    path = service.storage_root / BUCKET / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return f"gs://{BUCKET}/{name}"


def test_bad_csv_rows_become_partial_failures_and_good_rows_are_imported(client, service, cards_uri):
    good = (service.storage_root / cards_uri[len("gs://") :]).read_text().splitlines()[:3]
    first_set, image_and_box = good[0].split(",", 1)
    other_set = "VALIDATION" if first_set != "VALIDATION" else "TRAIN"
    uri = _write_csv(
        service,
        "mixed.csv",
        good
        + [
            f"TRAIN,gs://{BUCKET}/cards/images/nope.jpg,ace,0.1,0.1,,,0.5,0.5,,",
            f"TRAIN,gs://{BUCKET}/cards/images/IMG_2383.JPG,ace,0.1,0.1,,,1.5,0.5,,",
            "SOMETIMES,x.jpg,ace,0.1,0.1,,,0.5,0.5,,",
            f"TRAIN,gs://{BUCKET}/../../etc/passwd,ace,0.1,0.1,,,0.5,0.5,,",
            f"{other_set},{image_and_box}",  # line 8: line 1's image, in another set
        ],
    )
    dataset = create_dataset(client, "mixed")
    op = import_files(client, dataset, uri)
    op.result(timeout=120)
    failures = [f.message for f in op.metadata.partial_failures]
    assert len(failures) == 5
    conflict = f"but {first_set} at {uri}:1; an image belongs to one set"
    assert any("line 8" in f and conflict in f for f in failures)
    assert not any(str(service.storage_root) in f for f in failures)  # the URIs given, not local paths
    assert any("line 4" in f and "is not a file inside the storage root" in f for f in failures)
    assert any("line 5" in f and "X_MAX" in f for f in failures)
    assert any("line 6" in f and "ML_USE" in f for f in failures)
    assert any("line 7" in f and "is not a file inside the storage root" in f for f in failures)
    assert client.get_dataset(name=dataset.name).example_count >= 1


def test_a_reason_names_the_other_import_file_by_its_uri_even_through_a_link(client, service, cards_uri):
    """latest.csv links to v1.csv: a reason citing v1.csv.bak came out as gs://…/latest.csv.bak (the linked
    file's path was replaced inside the longer one)."""
    rows = (service.storage_root / cards_uri[len("gs://") :]).read_text().splitlines()
    first_set, image_and_box = rows[0].split(",", 1)
    other_set = "VALIDATION" if first_set != "VALIDATION" else "TRAIN"
    unrelated = next(row for row in rows if row.split(",")[1] != image_and_box.split(",")[0])
    (service.storage_root / BUCKET / "linked").mkdir(parents=True)
    (service.storage_root / BUCKET / "linked" / "v1.csv").write_text(unrelated + "\n")
    (service.storage_root / BUCKET / "linked" / "latest.csv").symlink_to("v1.csv")
    latest = f"gs://{BUCKET}/linked/latest.csv"
    backup = _write_csv(service, "linked/v1.csv.bak", [rows[0]])
    moved = _write_csv(service, "linked/moved.csv", [f"{other_set},{image_and_box}"])
    dataset = create_dataset(client, "linked")
    op = import_files(client, dataset, latest, backup, moved)
    op.result(timeout=120)
    [failure] = [f.message for f in op.metadata.partial_failures]
    assert failure.startswith(f"Error in {moved} line 1: image ")
    assert failure.endswith(f"but {first_set} at {backup}:1; an image belongs to one set")


def test_csv_with_only_bad_rows_fails_the_import(client, service):
    uri = _write_csv(service, "all_bad.csv", ["TRAIN,nothing.jpg,ace,2,2,,,3,3,,"])
    dataset = create_dataset(client, "all_bad")
    op = import_files(client, dataset, uri)
    with pytest.raises(exceptions.GoogleAPICallError, match="No valid rows"):
        op.result(timeout=120)
    assert len(op.metadata.partial_failures) == 1
    with pytest.raises(exceptions.FailedPrecondition, match="no examples"):
        client.create_model(
            parent=PARENT,
            model={
                "display_name": "m",
                "dataset_id": dataset.name.rsplit("/", 1)[1],
                "image_object_detection_model_metadata": {},
            },
        )


def test_importing_the_same_csv_again_adds_no_rows(client, service, cards_uri):
    """A retried ImportData (its reply lost) must not give the trainer every box twice."""
    dataset = create_imported_dataset(client, "reimport", cards_uri)
    trainer_csv = service.data_dir / "datasets" / dataset.name.rsplit("/", 1)[1] / "annotations.csv"
    first = trainer_csv.read_text().splitlines()
    client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [cards_uri]}}).result(
        timeout=120
    )
    assert trainer_csv.read_text().splitlines() == first
    assert len(first) == len((service.storage_root / cards_uri[len("gs://") :]).read_text().splitlines())
    assert client.get_dataset(name=dataset.name).example_count == dataset.example_count


@pytest.mark.parametrize(
    "uri", ["gs://test-bucket/../../../etc/passwd", "gs://test-bucket/none.csv", "http://example.com/x.csv"]
)
def test_import_uri_outside_storage_or_missing_is_invalid_argument(client, dataset, uri):
    with pytest.raises(exceptions.InvalidArgument, match="input_uris"):
        client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [uri]}})


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_dataset(name=f"{PARENT}/datasets/IOD123"),
        lambda c: c.get_model(name=f"{PARENT}/models/IOD123"),
        lambda c: c.delete_model(name=f"{PARENT}/models/IOD123"),
        lambda c: c.get_model_evaluation(name=f"{PARENT}/models/IOD123/modelEvaluations/1"),
        lambda c: c.transport.operations_client.get_operation(f"{PARENT}/operations/IOD123"),
        lambda c: c.transport.operations_client.cancel_operation(f"{PARENT}/operations/IOD123"),
    ],
)
def test_unknown_ids_are_not_found(client, call):
    with pytest.raises(exceptions.NotFound):
        call(client)


@pytest.mark.parametrize(
    "display_name", ["../../etc", "a" * 33, "", "drop table;", "名前", "1starts_with_digit"]
)
def test_hostile_display_names_are_rejected(client, display_name):
    with pytest.raises(exceptions.InvalidArgument, match="display_name"):
        client.create_dataset(
            parent=PARENT,
            dataset={"display_name": display_name, "image_object_detection_dataset_metadata": {}},
        )


@pytest.mark.parametrize(
    "name", [f"{PARENT}/datasets/../../x", f"{PARENT}/datasets/a%2Fb", "datasets/1", f"{PARENT}/models/IOD1"]
)
def test_hostile_resource_names_are_invalid_argument(client, name):
    with pytest.raises(exceptions.InvalidArgument, match="name"):
        client.get_dataset(name=name)


def test_hostile_rest_path_is_an_error_not_a_file(service):
    response = requests.get(f"{service.rest_url}/v1/{PARENT}/datasets/..%2F..%2Fservice.sqlite3", timeout=30)
    assert response.status_code in (400, 404)
    assert "error" in response.json()


def test_token_is_checked_as_bearer_token_on_both_transports(tmp_path):
    with ServiceProcess(tmp_path / "svc", token="s3cret") as secured:
        client, _ = grpc_clients(secured.grpc_target)
        with pytest.raises(exceptions.Unauthenticated):
            list(client.list_datasets(parent=PARENT))
        assert list(client.list_datasets(parent=PARENT, metadata=[("authorization", "Bearer s3cret")])) == []
        assert requests.get(f"{secured.rest_url}/v1/{PARENT}/datasets", timeout=30).status_code == 401
        ok = requests.get(
            f"{secured.rest_url}/v1/{PARENT}/datasets", timeout=30, headers={"Authorization": "Bearer s3cret"}
        )
        assert ok.status_code == 200
    assert secured.stop() == 0  # SIGTERM: a clean stop


@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"\x0a\x05ab", b"\x0a\xff\xff\xff\xff\x0f"])
def test_grpc_bytes_that_are_no_request_message_are_invalid_argument(service, body):
    """grpc's own deserializer answers INTERNAL to such bytes; the service reads them itself."""
    channel = grpc.insecure_channel(service.grpc_target)
    call = channel.unary_unary("/google.cloud.automl.v1.AutoMl/ListDatasets")
    with pytest.raises(grpc.RpcError) as raised:
        call(body, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ListDatasetsRequest" in raised.value.details()


@pytest.mark.parametrize("token", ["9" * 30, "²", "-1", "1e3"])
def test_page_tokens_the_service_never_returned_are_invalid_argument(service, client, token):
    with pytest.raises(exceptions.InvalidArgument, match="page_token"):
        list(client.list_datasets(request={"parent": PARENT, "page_token": token}))
    list_operations = grpc.insecure_channel(service.grpc_target).unary_unary(
        "/google.longrunning.Operations/ListOperations",
        request_serializer=operations_pb2.ListOperationsRequest.SerializeToString,
        response_deserializer=operations_pb2.ListOperationsResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as raised:
        list_operations(operations_pb2.ListOperationsRequest(name=PARENT, page_token=token), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in raised.value.details()


@pytest.mark.parametrize("body", ["null", "5", "true", '"displayName"', "[]", '[{"displayName": "a"}]'])
@pytest.mark.parametrize("surface", ["automl", "vertex"])
def test_rest_json_that_is_no_object_is_a_400(service, surface, body):
    """Found by probing: null, numbers and booleans made the protobuf JSON parser raise TypeError (a 500),
    and a list or a string was read as if it were a message."""
    url = service.rest_url if surface == "automl" else service.vertex_rest_url
    response = requests.post(
        f"{url}/v1/{PARENT}/datasets", data=body, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == f"Invalid request body: expected a JSON object, got {body}"


def test_rest_json_nested_too_deeply_is_a_400(service):
    body = "[" * 100_000 + "]" * 100_000
    response = requests.post(
        f"{service.rest_url}/v1/{PARENT}/datasets",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("gs://test-bucket/a/../../x/", "path segments . and .. cannot be stored"),
        ("gs://./x/", "the bucket name '.'"),
        ("gs://Test-Bucket/x/", "may hold only lowercase letters"),
        ("gs://-xy/", "must start and end with a letter or digit"),
        ("gs://test-bucket/a\nb/", "cannot hold a carriage return or line feed"),
        ("gs://test-bucket/b\x00k/", "a NUL character cannot be stored"),
        ("gs://test-bucket/" + "a" * 300 + "/", "a path segment over 255 bytes cannot be stored"),
    ],
)
def test_export_prefixes_gcs_would_refuse_or_this_storage_cannot_hold_are_invalid_argument(
    client, trainings, service, prefix, reason
):
    """`..` and `gs://./` wrote into another bucket; a NUL or a 300-character segment was INTERNAL."""
    before = sorted(path.name for path in service.storage_root.iterdir())
    with pytest.raises(exceptions.InvalidArgument, match="output_uri_prefix") as refused:
        client.export_model(
            name=trainings.low_latency.name,
            output_config={"model_format": "tflite", "gcs_destination": {"output_uri_prefix": prefix}},
        )
    assert reason in refused.value.message
    assert sorted(path.name for path in service.storage_root.iterdir()) == before


def test_an_import_file_that_is_no_text_names_its_uri_not_the_servers_path(client, service):
    (service.storage_root / BUCKET / "photo.csv").write_bytes(b"\xff\xd8\xff\xe0 not text")
    dataset = create_dataset(client, "binary")
    op = import_files(client, dataset, f"gs://{BUCKET}/photo.csv")
    with pytest.raises(exceptions.GoogleAPICallError) as failed:
        op.result(timeout=120)
    assert f"gs://{BUCKET}/photo.csv: not UTF-8 text" in failed.value.message
    assert str(service.storage_root) not in failed.value.message


def test_an_empty_import_file_says_it_holds_no_rows(client, service):
    """It said "all 0 rows were rejected (see partial failures)" and listed none."""
    uri = _write_csv(service, "empty.csv", [""])
    dataset = create_dataset(client, "empty")
    op = import_files(client, dataset, uri)
    with pytest.raises(
        exceptions.GoogleAPICallError, match=f"No rows to import: {uri} holds no annotation rows"
    ):
        op.result(timeout=120)


def test_a_dataset_name_given_as_dataset_id_is_invalid_argument(client, dataset):
    """The NOT_FOUND it got named a doubled path (…/datasets/projects/…)."""
    with pytest.raises(exceptions.InvalidArgument, match="model.dataset_id: must be the dataset's ID"):
        client.create_model(
            parent=PARENT,
            model={
                "display_name": "m",
                "dataset_id": dataset.name,
                "image_object_detection_model_metadata": {},
            },
        )


def test_a_page_size_above_the_maximum_is_coerced_to_it_and_a_negative_one_is_refused(service, client):
    """AIP-158, as Google's services do: a page_size over the maximum (1,000) is read as the maximum, not
    refused (found by probing: curl and SDK users passing page_size=5000 got INVALID_ARGUMENT)."""
    list_operations = grpc.insecure_channel(service.grpc_target).unary_unary(
        "/google.longrunning.Operations/ListOperations",
        request_serializer=operations_pb2.ListOperationsRequest.SerializeToString,
        response_deserializer=operations_pb2.ListOperationsResponse.FromString,
    )
    assert client.list_datasets(request={"parent": PARENT, "page_size": 5000})._response is not None
    list_operations(operations_pb2.ListOperationsRequest(name=PARENT, page_size=5000), timeout=30)
    with pytest.raises(exceptions.InvalidArgument, match="page_size"):
        list(client.list_datasets(request={"parent": PARENT, "page_size": -1}))
    with pytest.raises(grpc.RpcError) as raised:
        list_operations(operations_pb2.ListOperationsRequest(name=PARENT, page_size=-1), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
