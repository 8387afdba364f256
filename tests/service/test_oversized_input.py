"""Input of any size gets its own error code, and nothing one caller stores makes a read fail for others:
error messages, partial failures and list pages stay under what gRPC clients accept (8 KiB of trailing
metadata, 4 MiB a response)."""

from __future__ import annotations

import grpc
import pytest
import requests
from google.api_core import exceptions
from google.longrunning import operations_pb2

from .conftest import BUCKET, PARENT, create_dataset, import_files


@pytest.mark.parametrize("length", [3_500, 20_000])
def test_a_long_display_name_is_invalid_argument_on_both_transports(client, rest, length):
    """At 3,500 characters the client raised ValueError (code mismatch), at 12,000 RESOURCE_EXHAUSTED."""
    for surface in (client, rest):  # REST: a 400, which api-core reads as BadRequest (InvalidArgument's base)
        with pytest.raises(exceptions.BadRequest, match=f"{length:,} characters") as refused:
            surface.create_dataset(
                parent=PARENT,
                dataset={"display_name": "a" * length, "image_object_detection_dataset_metadata": {}},
            )
        assert surface is rest or refused.value.grpc_status_code == grpc.StatusCode.INVALID_ARGUMENT
        assert len(refused.value.message.encode()) <= 1000


def test_a_description_is_at_most_25000_characters(client):
    """A 5 MB description made GetDataset and ListDatasets fail with RESOURCE_EXHAUSTED for everyone."""
    dataset = create_dataset(client, "described")
    with pytest.raises(exceptions.InvalidArgument, match="dataset.description: is 25,001 characters long"):
        client.update_dataset(
            dataset={"name": dataset.name, "description": "d" * 25_001},
            update_mask={"paths": ["description"]},
        )
    with pytest.raises(exceptions.InvalidArgument, match="dataset.description"):
        client.create_dataset(
            parent=PARENT,
            dataset={
                "display_name": "described",
                "description": "d" * 25_001,
                "image_object_detection_dataset_metadata": {},
            },
        )
    kept = client.update_dataset(
        dataset={"name": dataset.name, "description": "d" * 25_000}, update_mask={"paths": ["description"]}
    )
    assert len(client.get_dataset(name=kept.name).description) == 25_000


@pytest.mark.parametrize(
    ("terms", "reason"), [(21, "has 21 terms; at most 20"), (999, "has 13,981 characters; at most 4,096")]
)
def test_a_filter_of_too_many_terms_is_invalid_argument(client, service, terms, reason):
    """SQLite refused the expression of a thousand terms ("Expression tree is too large"): INTERNAL, a 500
    over REST. Past 20 terms a filter is refused, and past 4,096 characters before it is read."""
    many = " AND ".join(["done=true"] * terms)
    with pytest.raises(exceptions.InvalidArgument, match=f"filter: {reason}"):
        list(client.transport.operations_client.list_operations(PARENT, filter_=many))
    response = requests.get(f"{service.rest_url}/v1/{PARENT}/operations", params={"filter": many}, timeout=60)
    assert response.status_code == 400 and response.json()["error"]["status"] == "INVALID_ARGUMENT"


def _import_with_long_labels(client, service, name: str, bad_rows: int):
    """An import of one good row and `bad_rows` rows whose 6,000-character label each reason repeats."""
    good = (service.storage_root / BUCKET / "cards" / "import.csv").read_text().splitlines()[0]
    label = "x" * 6_000
    lines = [good] + [f"TRAIN,gs://{BUCKET}/cards/none.jpg,{label},0.1,0.1,,,0.5,0.5,,"] * bad_rows
    path = service.storage_root / BUCKET / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    dataset = create_dataset(client, name)
    op = import_files(client, dataset, f"gs://{BUCKET}/{name}.csv")
    op.result(timeout=300)
    return op


def test_an_import_with_a_thousand_long_bad_rows_stays_readable(client, service, cards_uri):
    """Its 6.1 MB of partial failures made GetOperation, and ListOperations for every caller, fail with
    RESOURCE_EXHAUSTED until the operation was deleted."""
    op = _import_with_long_labels(client, service, "long_labels", 1_000)
    fetched = client.transport.operations_client.get_operation(op.operation.name)
    assert fetched.ByteSize() < 1024 * 1024
    assert len(op.metadata.partial_failures) == 1_000
    assert all(len(f.message.encode()) <= 500 for f in op.metadata.partial_failures)
    assert "LABEL 'xxxx" in op.metadata.partial_failures[0].message


def test_list_operations_pages_stay_under_the_clients_message_limit(client, service, cards_uri):
    """Eight operations of ~0.5 MB each would make a 4 MB page: the page ends early with a token instead."""
    names = {_import_with_long_labels(client, service, f"big_{n}", 1_000).operation.name for n in range(8)}
    channel = grpc.insecure_channel(service.grpc_target)  # the client's default 4 MiB receive limit
    call = channel.unary_unary(
        "/google.longrunning.Operations/ListOperations",
        request_serializer=operations_pb2.ListOperationsRequest.SerializeToString,
        response_deserializer=operations_pb2.ListOperationsResponse.FromString,
    )
    listed, pages, token = set(), 0, ""
    while True:
        page = call(operations_pb2.ListOperationsRequest(name=PARENT, page_size=1000, page_token=token))
        listed |= {op.name for op in page.operations}
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert names <= listed and pages >= 2
    assert names <= {op.name for op in client.transport.operations_client.list_operations(PARENT, filter_="")}
