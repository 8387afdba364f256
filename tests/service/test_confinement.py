"""ImportData reads only the storage root (and folders allowed with --allow-local-dir): a CSV URI elsewhere is
INVALID_ARGUMENT, an image row elsewhere a partial failure, and neither tells a missing file from a forbidden
one or shows a byte of it. The service's own work bucket is neither an import source nor an export
destination."""

from __future__ import annotations

import csv
import re
import shutil

import pytest
from google.api_core import exceptions

from edgetrain_service.config import WORK_BUCKET
from edgetrain_service.process import ServiceProcess

from .conftest import BUCKET, CARDS, PARENT, grpc_clients

NOT_READABLE = "is not a file inside the storage root"


def _dataset(client, name: str):
    return client.create_dataset(
        parent=PARENT, dataset={"display_name": name, "image_object_detection_dataset_metadata": {}}
    ).result()


def _import(client, dataset, uri: str):
    return client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [uri]}})


@pytest.fixture
def outside(tmp_path_factory):
    """A folder outside the storage root holding a real image and a CSV that imports it."""
    folder = tmp_path_factory.mktemp("outside")
    shutil.copy(CARDS / "images" / "IMG_2383.JPG", folder / "secret.jpg")
    (folder / "secret.csv").write_text("TRAIN,secret.jpg,ace,0.1,0.1,,,0.5,0.5,,\n")
    return folder


@pytest.mark.parametrize(
    "uri",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        "gs://test-bucket/../../../../etc/passwd",
        "../../../../../../etc/passwd",
        "OUTSIDE/secret.csv",
        "file://OUTSIDE/secret.csv",
        "gs://test-bucket/link-out/secret.csv",
        "gs://test-bucket/no-such.csv",
        "gs://test-bucket/link-loop",  # a link to itself: was an INTERNAL naming Python's RuntimeError
    ],
)
def test_csv_uri_outside_the_storage_root_is_refused_like_a_missing_one(client, service, outside, uri):
    link = service.storage_root / BUCKET / "link-out"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(outside, target_is_directory=True)
    if not (loop := link.parent / "link-loop").is_symlink():
        loop.symlink_to(loop)
    dataset = _dataset(client, "confined_csv")
    with pytest.raises(exceptions.InvalidArgument) as raised:
        _import(client, dataset, uri.replace("OUTSIDE", str(outside)))
    assert raised.value.message.endswith(NOT_READABLE)
    assert "root:" not in raised.value.message


def test_image_rows_outside_the_storage_root_fail_alone_and_leak_nothing(client, service, cards_uri, outside):
    folder = service.storage_root / BUCKET / "confined_rows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "escape").unlink(missing_ok=True)
    (folder / "escape").symlink_to(outside / "secret.jpg")
    (folder / "loop").unlink(missing_ok=True)
    (folder / "loop").symlink_to(folder / "loop")
    good = (service.storage_root / cards_uri[len("gs://") :]).read_text().splitlines()[0]
    refs = [
        str(outside / "secret.jpg"),  # line 2: absolute, exists
        f"file://{outside / 'secret.jpg'}",  # 3
        "../../../" + str(outside / "secret.jpg").lstrip("/"),  # 4: relative with ..
        f"gs://{BUCKET}/../{outside.name}/secret.jpg",  # 5
        "escape",  # 6: a symlink inside the root to a file outside
        "/etc/passwd",  # 7
        str(outside / "missing.jpg"),  # 8: absolute, missing
        f"gs://{BUCKET}/confined_rows/missing.jpg",  # 9: inside, missing
        "loop",  # 10: a link to itself (its reason named the server's path)
    ]
    rows = [good] + [f"TRAIN,{ref},ace,0.1,0.1,,,0.5,0.5,," for ref in refs]
    (folder / "import.csv").write_text("\n".join(rows) + "\n")
    dataset = _dataset(client, "confined_rows")
    op = _import(client, dataset, f"gs://{BUCKET}/confined_rows/import.csv")
    op.result(timeout=120)
    messages = [f.message for f in op.metadata.partial_failures]
    failures = sorted(messages, key=lambda message: int(re.search(r" line (\d+):", message)[1]))
    assert len(failures) == len(refs)
    for line, (failure, ref) in enumerate(zip(failures, refs, strict=True), start=2):
        assert f"line {line}: cannot fetch image {ref} ({NOT_READABLE})" in failure, failure
    assert client.get_dataset(name=dataset.name).example_count == 1


def test_the_work_bucket_is_neither_an_import_source_nor_an_export_destination(client, service):
    # the service's start deletes every file there that no queued import claims
    planted = service.storage_root / WORK_BUCKET / "planted" / "import.csv"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f"TRAIN,gs://{BUCKET}/planted.jpg,ace,0.1,0.1,,,0.5,0.5,,\n")
    dataset = _dataset(client, "work_bucket")
    try:
        for uri in (f"gs://{WORK_BUCKET}/planted/import.csv", f"file://{planted}"):
            with pytest.raises(exceptions.InvalidArgument) as raised:
                _import(client, dataset, uri)
            assert raised.value.message.startswith("input_config.gcs_source.input_uris: ")
            assert f"gs://{WORK_BUCKET}/" in raised.value.message
    finally:
        planted.unlink()
    field = "output_config.gcs_destination.output_uri_prefix"
    with pytest.raises(exceptions.InvalidArgument, match=f"{field}: .*{WORK_BUCKET}"):
        # the destination is checked before the model is looked up, as every argument is
        client.export_model(
            name=f"{PARENT}/models/IOD404",
            output_config={"gcs_destination": {"output_uri_prefix": f"gs://{WORK_BUCKET}/exports/"}},
        )


def test_an_allowed_local_folder_can_be_imported_from(tmp_path, outside):
    allowed = tmp_path / "allowed"
    (allowed / "images").mkdir(parents=True)
    shutil.copy(CARDS / "images" / "IMG_2384.JPG", allowed / "images" / "card.jpg")
    with open(allowed / "import.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(
            [
                ["TRAIN", "images/card.jpg", "ace", "0.1", "0.1", "", "", "0.5", "0.5", "", ""],
                ["TRAIN", str(outside / "secret.jpg"), "ace", "0.1", "0.1", "", "", "0.5", "0.5", "", ""],
            ]
        )
    with ServiceProcess(tmp_path / "svc", allow_local_dirs=[allowed]) as running:
        client, _ = grpc_clients(running.grpc_target)
        dataset = _dataset(client, "allowed")
        op = _import(client, dataset, str(allowed / "import.csv"))
        op.result(timeout=120)
        (failure,) = [f.message for f in op.metadata.partial_failures]
        assert "line 2" in failure and "is not a file inside the storage root or an allowed folder" in failure
        assert client.get_dataset(name=dataset.name).example_count == 1
        with pytest.raises(exceptions.InvalidArgument, match="or an allowed folder"):
            _import(client, dataset, f"file://{outside / 'secret.csv'}")
