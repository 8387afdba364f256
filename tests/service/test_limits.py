"""Bounded memory and threads: images past the pixel limit are refused before they are decoded (imports and
Predict, INVALID_ARGUMENT naming the limit), Predict's parameters are checked, and WaitOperation calls cannot
take every request thread."""

from __future__ import annotations

import io
import sqlite3
import time

import grpc
import pytest
from google.api_core import exceptions
from google.longrunning import operations_pb2
from google.protobuf import duration_pb2
from PIL import Image

from edgetrain_service.image_limits import MAX_IMAGE_PIXELS
from edgetrain_service.jobs import IMPORT_SLOTS
from edgetrain_service.operations import MAX_CONCURRENT_WAITS
from edgetrain_service.process import ServiceProcess

from .conftest import (
    BUCKET,
    CARDS,
    PARENT,
    create_imported_dataset,
    grpc_clients,
    start_training,
    write_cards_subset,
)


def _png(width: int, height: int, mode: str = "L") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def test_import_refuses_an_image_over_the_pixel_limit_and_keeps_the_others(client, service, cards_uri):
    folder = service.storage_root / BUCKET / "huge_image"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "huge.png").write_bytes(_png(8000, 6000))  # 48 MP, a few hundred KB as a PNG
    good = (service.storage_root / cards_uri[len("gs://") :]).read_text().splitlines()[0]
    (folder / "import.csv").write_text(f"{good}\nTRAIN,huge.png,ace,0.1,0.1,,,0.5,0.5,,\n")
    dataset = client.create_dataset(
        parent=PARENT, dataset={"display_name": "huge_image", "image_object_detection_dataset_metadata": {}}
    ).result()
    op = client.import_data(
        name=dataset.name,
        input_config={"gcs_source": {"input_uris": [f"gs://{BUCKET}/huge_image/import.csv"]}},
    )
    op.result(timeout=120)
    (failure,) = [f.message for f in op.metadata.partial_failures]
    assert "line 2" in failure and "8000 x 6000" in failure and f"{MAX_IMAGE_PIXELS:,} pixels" in failure
    assert client.get_dataset(name=dataset.name).example_count == 1


def _truncated_jpeg() -> bytes:
    data = (CARDS / "images" / "IMG_2383.JPG").read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "image, reason",
    [
        (lambda: _png(8000, 6000), "8000 x 6000"),  # over this service's limit
        (lambda: _png(14000, 14000, "1"), "more than"),  # over Pillow's bomb threshold (was INTERNAL)
        (
            lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
            "not a readable image: the bytes are not in an image format",
        ),
        (lambda: b"notes, not a picture\n", "not a readable image: the bytes are not in an image format"),
        (_truncated_jpeg, "not a readable image: the image data is truncated or corrupt"),
    ],
)
def test_predict_refuses_oversized_or_broken_images_with_invalid_argument(
    prediction_client, trainings, image, reason
):
    with pytest.raises(exceptions.InvalidArgument) as raised:
        prediction_client.predict(
            name=trainings.low_latency.name, payload={"image": {"image_bytes": image()}}
        )
    message = raised.value.message
    assert message.startswith("payload.image.image_bytes: ") and reason in message
    assert "object at 0x" not in message and "<" not in message  # plain words, not a Python repr
    if not reason.startswith("not a readable image"):
        assert f"{MAX_IMAGE_PIXELS:,}" in message


@pytest.mark.parametrize("count", ["nan", "inf", "-inf", "-1", "2.5", "1e400"])
def test_predict_refuses_a_max_bounding_box_count_that_is_not_a_count(prediction_client, trainings, count):
    image = (CARDS / "images" / "IMG_2383.JPG").read_bytes()
    with pytest.raises(exceptions.InvalidArgument, match="max_bounding_box_count"):
        prediction_client.predict(
            name=trainings.low_latency.name,
            payload={"image": {"image_bytes": image}},
            params={"max_bounding_box_count": count},
        )


def test_concurrent_wait_operations_leave_threads_for_other_calls(tmp_path):
    with ServiceProcess(tmp_path / "svc", workers=0) as queue_only:  # a CreateModel stays queued
        client, _ = grpc_clients(queue_only.grpc_target)
        uri = write_cards_subset(queue_only.storage_root, "waits", {"TRAIN": 2, "TEST": 1})
        dataset = create_imported_dataset(client, "waits", uri)
        name = start_training(client, dataset, "waited_on", "mobile-low-latency-1").operation.name
        channel = grpc.insecure_channel(queue_only.grpc_target)
        wait = channel.unary_unary(
            "/google.longrunning.Operations/WaitOperation",
            request_serializer=operations_pb2.WaitOperationRequest.SerializeToString,
            response_deserializer=operations_pb2.Operation.FromString,
        )
        request = operations_pb2.WaitOperationRequest(name=name, timeout=duration_pb2.Duration(seconds=6))
        calls = [wait.future(request, timeout=60) for _ in range(80)]
        time.sleep(1.0)
        started = time.monotonic()
        assert list(client.list_datasets(parent=PARENT))  # answered while the waits are in flight
        assert time.monotonic() - started < 5
        assert sum(not call.done() for call in calls) <= MAX_CONCURRENT_WAITS
        for call in calls:
            try:
                assert call.result().done is False
            except grpc.RpcError as error:  # a burst past the concurrent-RPC limit is refused, not queued
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        channel.close()


def test_at_most_two_imports_decode_at_once(tmp_path):
    with ServiceProcess(tmp_path / "svc", workers=0) as running:
        client, _ = grpc_clients(running.grpc_target)
        uri = write_cards_subset(running.storage_root, "many", {"TRAIN": 40, "TEST": 10})
        names = [
            client.create_dataset(
                parent=PARENT,
                dataset={"display_name": f"many_{i}", "image_object_detection_dataset_metadata": {}},
            )
            .result()
            .name
            for i in range(5)
        ]
        ops = [
            client.import_data(name=name, input_config={"gcs_source": {"input_uris": [uri]}})
            for name in names
        ]
        db = sqlite3.connect(running.data_dir / "service.sqlite3")
        most = 0
        while any(not op.done() for op in ops):
            (count,) = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE kind='import' AND state='running'"
            ).fetchone()
            most = max(most, count)
            time.sleep(0.05)
        db.close()
        assert 1 <= most <= IMPORT_SLOTS
        assert all(client.get_dataset(name=name).example_count == 50 for name in names)
