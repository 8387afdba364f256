"""Imports that keep a dataset clean (issue 29 item 4), through the official client on the real service: an
image is its content, keeps its first split (a TEST image stays in TEST, and the operation says so), and an
import that carries it again replaces its box list; the same CSV again changes nothing."""

from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest
from google.api_core.exceptions import GoogleAPICallError
from google.cloud import automl_v1

from edgetrain_service import operations
from edgetrain_service.config import ServiceConfig
from edgetrain_service.job_payloads import ImportJob
from edgetrain_service.jobs import MAX_ATTEMPTS
from edgetrain_service.process import ServiceProcess
from edgetrain_service.store import Store
from tests.vertex.conftest import create_dataset as vertex_dataset
from tests.vertex.conftest import grpc_clients as vertex_clients
from tests.vertex.conftest import import_config

from .conftest import BUCKET, CARDS, PARENT, finished, grpc_clients

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
ACE = "0.100000,0.100000,,,0.500000,0.500000,,"
KING = "0.200000,0.200000,,,0.600000,0.600000,,"


def _picture(storage_root: Path, cards_name: str, as_path: str) -> str:
    """Copy a cards image to gs://BUCKET/<as_path>; returns that URI."""
    target = storage_root / BUCKET / as_path
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(CARDS / "images" / cards_name, target)
    return f"gs://{BUCKET}/{as_path}"


def _csv(storage_root: Path, name: str, lines: list[str]) -> str:
    path = storage_root / BUCKET / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return f"gs://{BUCKET}/{name}"


def _new_dataset(client: automl_v1.AutoMlClient, display_name: str) -> automl_v1.Dataset:
    return client.create_dataset(
        parent=PARENT, dataset={"display_name": display_name, "image_object_detection_dataset_metadata": {}}
    ).result()


def _import(client: automl_v1.AutoMlClient, dataset: automl_v1.Dataset, uri: str):
    op = client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [uri]}})
    op.result(timeout=120)
    return op


def _training_rows(data_dir: Path, dataset: automl_v1.Dataset) -> list[list[str]]:
    """The rows a training of this dataset would copy now."""
    path = data_dir / "datasets" / dataset.name.rsplit("/", 1)[1] / "annotations.csv"
    return list(csv.reader(path.open()))


def _images_per_label(client: automl_v1.AutoMlClient, data_dir: Path, dataset) -> dict[str, int]:
    """Each annotation spec's example count as GetAnnotationSpec answers (AutoML v1 lists no specs: their
    names come from the service's database)."""
    with sqlite3.connect(data_dir / "service.sqlite3") as db:
        names = [row[0] for row in db.execute("SELECT name FROM resources WHERE parent=?", (dataset.name,))]
    specs = [client.get_annotation_spec(name=name) for name in names]
    return {spec.display_name: spec.example_count for spec in specs}


def test_importing_the_same_csv_twice_more_leaves_examples_and_boxes_unchanged(client, service):
    root = service.storage_root
    one = _picture(root, "IMG_2383.JPG", "again/one.jpg")
    two = _picture(root, "IMG_2384.JPG", "again/two.jpg")
    three = _picture(root, "IMG_2385.JPG", "again/three.jpg")
    uri = _csv(
        root,
        "again/import.csv",
        [f"TRAIN,{one},ace,{ACE}", f"TRAIN,{one},king,{KING}", f"TRAIN,{one},ace,{ACE}"]
        + [f"TEST,{two},king,{KING}", f"UNASSIGNED,{three},,,,,,,,,"],
    )
    dataset = _new_dataset(client, "same_csv")
    _import(client, dataset, uri)
    first = _training_rows(service.data_dir, dataset)
    assert len(first) == 4  # the duplicate ace box once; the negative example as one row
    assert client.get_dataset(name=dataset.name).example_count == 3
    for _ in range(2):
        op = _import(client, dataset, uri)
        assert list(op.metadata.partial_failures) == []
        assert _training_rows(service.data_dir, dataset) == first
        assert client.get_dataset(name=dataset.name).example_count == 3


def test_the_same_picture_under_a_second_path_is_one_image(client, service):
    root = service.storage_root
    first = _picture(root, "IMG_2386.JPG", "paths/a/card.JPG")
    second = _picture(root, "IMG_2386.JPG", "paths/b/renamed.jpeg")
    other = _picture(root, "IMG_2387.JPG", "paths/a/other.JPG")
    dataset = _new_dataset(client, "second_path")
    _import(
        client,
        dataset,
        _csv(root, "paths/first.csv", [f"TRAIN,{first},ace,{ACE}", f"TRAIN,{other},,,,,,,,,"]),
    )
    _import(client, dataset, _csv(root, "paths/second.csv", [f"TRAIN,{second},king,{KING}"]))
    assert client.get_dataset(name=dataset.name).example_count == 2
    rows = _training_rows(service.data_dir, dataset)
    assert len({row[1] for row in rows}) == 2
    both = _new_dataset(client, "both_paths_at_once")
    _import(
        client,
        both,
        _csv(root, "paths/both.csv", [f"TRAIN,{first},ace,{ACE}", f"TRAIN,{second},king,{KING}"]),
    )
    assert client.get_dataset(name=both.name).example_count == 1
    assert sorted(row[2] for row in _training_rows(service.data_dir, both)) == ["ace", "king"]


def test_a_test_image_imported_again_as_train_stays_in_test_and_the_row_is_reported(
    client, service, monkeypatch
):
    root = service.storage_root
    picture = _picture(root, "IMG_2388.JPG", "split/card.jpg")
    renamed = _picture(root, "IMG_2388.JPG", "split/copy_of_card.jpg")
    trained = _picture(root, "IMG_2389.JPG", "split/train.jpg")
    dataset = _new_dataset(client, "stays_in_test")
    _import(
        client,
        dataset,
        _csv(root, "split/first.csv", [f"TEST,{picture},ace,{ACE}", f"TRAIN,{trained},ace,{ACE}"]),
    )
    uri = _csv(
        root,
        "split/second.csv",
        [f"TRAIN,{trained},king,{KING}", f"TRAIN,{renamed},ace,{ACE}", f"UNASSIGNED,{picture},ace,{ACE}"],
    )
    op = _import(client, dataset, uri)
    assert op.done() and op.exception() is None
    assert [f.message for f in op.metadata.partial_failures] == [
        f"Error in {uri} line 2: image already in TEST; kept there"
    ]
    rows = _training_rows(service.data_dir, dataset)
    assert client.get_dataset(name=dataset.name).example_count == 2
    assert sorted((row[0], row[2]) for row in rows) == [("TEST", "ace"), ("TRAIN", "king")]

    # The pipeline's import record keeps what its gateway reads from the operation: the row and its line.
    monkeypatch.syspath_prepend(str(FUNCTIONS_DIR))
    from edgetrain_pipeline.automl_gateway import AutoMlGateway
    from edgetrain_pipeline.config import get_env

    for name, value in {
        "GOOGLE_CLOUD_PROJECT": "edgetrain-test",
        "AUTOML_LOCATION": "us-central1",
        "TRAINING_BACKEND": "automl-v1",
        "AUTOML_ENDPOINT": service.grpc_target,
    }.items():
        monkeypatch.setenv(name, value)
    get_env.cache_clear()
    try:
        view = AutoMlGateway(get_env(), client=client).get_operation(op.operation.name)
    finally:
        get_env.cache_clear()
    assert view.succeeded and view.partial_failures == [
        f"Error in {uri} line 2: image already in TEST; kept there"
    ]


def test_an_import_that_carries_an_image_again_replaces_its_box_list(client, service):
    root = service.storage_root
    picture = _picture(root, "IMG_2390.JPG", "replace/card.jpg")
    kept = _picture(root, "IMG_2391.JPG", "replace/kept.jpg")
    dataset = _new_dataset(client, "replacement")
    _import(
        client,
        dataset,
        _csv(
            root,
            "replace/first.csv",
            [f"TRAIN,{picture},ace,{ACE}", f"TRAIN,{picture},ace,{KING}", f"TRAIN,{kept},ace,{ACE}"],
        ),
    )
    _import(client, dataset, _csv(root, "replace/corrected.csv", [f"TRAIN,{picture},king,{KING}"]))
    rows = _training_rows(service.data_dir, dataset)
    assert sorted(row[2:7] for row in rows) == [
        ["ace", "0.100000", "0.100000", "", ""],
        ["king", "0.200000", "0.200000", "", ""],
    ]
    assert _images_per_label(client, service.data_dir, dataset) == {"ace": 1, "king": 1}
    _import(client, dataset, _csv(root, "replace/no_objects.csv", [f"TRAIN,{picture},,,,,,,,,"]))
    rows = _training_rows(service.data_dir, dataset)
    assert sorted(row[2] for row in rows) == ["", "ace"]
    assert client.get_dataset(name=dataset.name).example_count == 2
    assert _images_per_label(client, service.data_dir, dataset) == {"ace": 1, "king": 0}


def test_an_import_interrupted_before_its_commit_runs_again_in_its_place(tmp_path):
    """The server died after the import wrote its rows and before it committed: at restart it runs again,
    rewrites its own file (no second copy, same place in the order) and commits; a later import still wins."""
    data, storage = tmp_path / "data", tmp_path / "gcs"
    picture = _picture(storage, "IMG_2392.JPG", "crash/card.jpg")
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        client = grpc_clients(running.grpc_target)[0]
        dataset = _new_dataset(client, "interrupted")
        _import(client, dataset, _csv(storage, "crash/first.csv", [f"TRAIN,{picture},ace,{ACE}"]))
    imports = data / "datasets" / dataset.name.rsplit("/", 1)[1] / "imports"
    config = ServiceConfig(data_dir=data, storage_root=storage)
    store = Store(config.db_path)
    uri = _csv(storage, "crash/second.csv", [f"TEST,{picture},king,{KING}"])
    with store.tx() as db:
        op = operations.start(db, PARENT, dataset.name, "import_data_details")
        Store.insert_job(db, op.name, ImportJob(dataset=dataset.name, uris=[uri]))
        db.execute("UPDATE jobs SET state='running', attempts=1 WHERE op_name=?", (op.name,))
    op_id = op.name.rsplit("/", 1)[1]
    (imports / f"00000002-{op_id}.csv").write_text("")  # what it wrote before the crash
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        client = grpc_clients(running.grpc_target)[0]
        ended = finished(client, op.name, timeout_s=60)
        assert not ended.HasField("error")
        assert sorted(p.name for p in imports.iterdir()) == [
            next(imports.glob("00000001-*.csv")).name,
            f"00000002-{op_id}.csv",
        ]
        assert [row[::2] for row in _training_rows(data, dataset)] == [
            ["TRAIN", "king", "0.200000", "", "0.600000", ""]
        ]
        _import(client, dataset, _csv(storage, "crash/third.csv", [f"TRAIN,{picture},ace,{ACE}"]))
        assert [row[2] for row in _training_rows(data, dataset)] == ["ace"]
        assert next(imports.glob("00000003-*.csv"))


def test_two_imports_of_one_image_at_once_commit_one_after_the_other(client, service):
    """Both succeed; the dataset is the two imports in commit order (the later one's box list)."""
    root = service.storage_root
    picture = _picture(root, "IMG_2393.JPG", "race/card.jpg")
    dataset = _new_dataset(client, "two_at_once")
    uris = [
        _csv(root, "race/ace.csv", [f"TRAIN,{picture},ace,{ACE}"]),
        _csv(root, "race/king.csv", [f"TEST,{picture},king,{KING}"]),
    ]
    ops = [
        client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [u]}}) for u in uris
    ]
    for op in ops:
        op.result(timeout=120)
    imports = service.data_dir / "datasets" / dataset.name.rsplit("/", 1)[1] / "imports"
    committed = [path.stem.split("-", 1)[1] for path in sorted(imports.glob("*.csv"))]
    ids = [op.operation.name.rsplit("/", 1)[1] for op in ops]
    assert sorted(committed) == sorted(ids)
    first, last = (0, 1) if committed == ids else (1, 0)
    split_asked, label_given = ("TRAIN", "TEST"), ("ace", "king")
    rows = _training_rows(service.data_dir, dataset)
    assert [(row[0], row[2]) for row in rows] == [(split_asked[first], label_given[last])]
    assert not ops[first].metadata.partial_failures and len(ops[last].metadata.partial_failures) == 1
    assert client.get_dataset(name=dataset.name).example_count == 1


def test_rows_of_an_import_that_ended_in_error_do_not_count(tmp_path):
    """An import that wrote its rows and then crashed the server too often ends ABORTED at the next start
    (the last crash came after its training CSV had moved into place, before its COMMIT): its rows leave
    the training CSV at that start and are not part of the dataset the next import builds."""
    data, storage = tmp_path / "data", tmp_path / "gcs"
    picture = _picture(storage, "IMG_2394.JPG", "given_up/card.jpg")
    other = _picture(storage, "IMG_2395.JPG", "given_up/other.jpg")
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        client = grpc_clients(running.grpc_target)[0]
        dataset = _new_dataset(client, "given_up")
        _import(client, dataset, _csv(storage, "given_up/first.csv", [f"TRAIN,{picture},ace,{ACE}"]))
    imports = data / "datasets" / dataset.name.rsplit("/", 1)[1] / "imports"
    (committed,) = imports.iterdir()
    store = Store(ServiceConfig(data_dir=data, storage_root=storage).db_path)
    uri = _csv(storage, "given_up/second.csv", [f"TRAIN,{picture},king,{KING}"])
    with store.tx() as db:
        op = operations.start(db, PARENT, dataset.name, "import_data_details")
        Store.insert_job(db, op.name, ImportJob(dataset=dataset.name, uris=[uri]))
        db.execute("UPDATE jobs SET state='running', attempts=? WHERE op_name=?", (MAX_ATTEMPTS, op.name))
    rows = committed.read_text().replace(",ace,", ",king,")
    (imports / f"00000002-{op.name.rsplit('/', 1)[1]}.csv").write_text(rows)
    before = _training_rows(data, dataset)
    (imports.parent / "annotations.csv").write_text(rows)
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        client = grpc_clients(running.grpc_target)[0]
        assert finished(client, op.name, timeout_s=60).error.code == 10  # ABORTED
        assert _training_rows(data, dataset) == before
        assert list(imports.iterdir()) == [committed]
        _import(client, dataset, _csv(storage, "given_up/third.csv", [f"TRAIN,{other},king,{KING}"]))
        assert sorted(row[2] for row in _training_rows(data, dataset)) == ["ace", "king"]  # not king twice


def test_on_the_vertex_surface_a_kept_row_is_reported_by_the_callers_file_and_line(service):
    vertex = vertex_clients(service.grpc_target)
    root = service.storage_root
    picture = _picture(root, "IMG_2396.JPG", "vertex/card.jpg")
    other = _picture(root, "IMG_2397.JPG", "vertex/other.jpg")
    dataset = vertex_dataset(vertex, "kept in test")
    first = _csv(root, "vertex/first.csv", [f"test,{picture},ace,{ACE}"])
    vertex.datasets.import_data(name=dataset.name, import_configs=[import_config(first)]).result(timeout=120)
    second = _csv(
        root, "vertex/second.csv", [f"training,{other},ace,{ACE}", f"training,{picture},king,{KING}"]
    )
    op = vertex.datasets.import_data(name=dataset.name, import_configs=[import_config(second)])
    op.result(timeout=120)
    assert [f.message for f in op.metadata.generic_metadata.partial_failures] == [
        f"Error in {second} line 2: image already in TEST; kept there"
    ]
    assert vertex.datasets.get_dataset(name=dataset.name).data_item_count == 2


def test_an_import_whose_commit_the_database_refuses_leaves_count_and_csv_as_they_were(tmp_path):
    """The import's final transaction fails (a real SQLite error: a trigger refuses the dataset's new count):
    the operation ends in error, the dataset's example count and the training CSV both still show the
    committed import only, and the same import succeeds once the database accepts it."""
    data, storage = tmp_path / "data", tmp_path / "gcs"
    first = _picture(storage, "IMG_2398.JPG", "refused/first.jpg")
    second = _picture(storage, "IMG_2399.JPG", "refused/second.jpg")
    third = _picture(storage, "IMG_2400.JPG", "refused/third.jpg")
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        client = grpc_clients(running.grpc_target)[0]
        dataset = _new_dataset(client, "refused_commit")
        _import(client, dataset, _csv(storage, "refused/first.csv", [f"TRAIN,{first},ace,{ACE}"]))
        committed = _training_rows(data, dataset)
        fault = sqlite3.connect(data / "service.sqlite3", isolation_level=None)
        fault.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON resources WHEN NEW.kind = 'dataset' "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END"
        )
        uri = _csv(storage, "refused/more.csv", [f"TRAIN,{second},king,{KING}", f"TEST,{third},ace,{ACE}"])
        op = client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [uri]}})
        with pytest.raises(GoogleAPICallError, match=r"injected"):
            op.result(timeout=120)
        assert client.get_dataset(name=dataset.name).example_count == 1
        assert _training_rows(data, dataset) == committed
        imports = data / "datasets" / dataset.name.rsplit("/", 1)[1] / "imports"
        assert len(list(imports.iterdir())) == 1  # the refused import's rows are not kept either
        fault.execute("DROP TRIGGER refuse")
        fault.close()
        _import(client, dataset, uri)
        assert client.get_dataset(name=dataset.name).example_count == 3
        rows = _training_rows(data, dataset)
        assert len({row[1] for row in rows}) == 3
        assert sorted(row[2] for row in rows) == ["ace", "ace", "king"]
