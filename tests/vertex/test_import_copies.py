"""Vertex ImportData converts the caller's files into AutoML CSVs under the service's work bucket: they stay
while the import's operation may still run, and are removed once it is done, however it ended. Real service,
official aiplatform client; the database faults are real SQLite errors raised by triggers."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.longrunning import operations_pb2

from edgetrain_service import operations
from edgetrain_service.config import ServiceConfig
from edgetrain_service.job_payloads import ImportJob
from edgetrain_service.jobs import MAX_ATTEMPTS
from edgetrain_service.process import ServiceProcess
from edgetrain_service.store import Store
from edgetrain_service.vertex import import_files
from tests.service.conftest import BUCKET, CARDS, PARENT, finished, wait_for
from tests.service.conftest import grpc_clients as automl_clients

from .conftest import create_dataset, grpc_clients, import_config, write_vertex_csv

BOX = "0.100000,0.100000,,,0.500000,0.500000,,"


def _vertex_csv(storage: Path, name: str, pictures: list[str]) -> str:
    """A Vertex CSV of cards pictures (one box each) under gs://BUCKET/<name>/; returns its URI."""
    folder = storage / BUCKET / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for picture in pictures:
        shutil.copy(CARDS / "images" / picture, folder / picture)
        lines.append(f"training,gs://{BUCKET}/{name}/{picture},ace,{BOX}")
    (folder / "import.csv").write_text("\n".join(lines) + "\n")
    return f"gs://{BUCKET}/{name}/import.csv"


def _work_files(storage: Path) -> list[Path]:
    return sorted(p for p in (storage / import_files.WORK_BUCKET).rglob("*") if p.is_file())


def _work_entries(storage: Path) -> list[Path]:
    """Files and folders under the work bucket: an emptied work folder is removed too."""
    return sorted((storage / import_files.WORK_BUCKET).rglob("*"))


def test_converted_files_stay_while_the_import_runs_and_go_once_it_ends(tmp_path):
    data, storage = tmp_path / "data", tmp_path / "gcs"
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        clients = grpc_clients(running.grpc_target)
        dataset = create_dataset(clients, "copies")
        good = _vertex_csv(storage, "copies_ok", ["IMG_2383.JPG", "IMG_2384.JPG"])
        clients.datasets.import_data(name=dataset.name, import_configs=[import_config(good)]).result(120)
        wait_for(lambda: not _work_entries(storage), 10, "the converted CSV of a finished import to go")
        assert clients.datasets.get_dataset(name=dataset.name).data_item_count == 2

        # Every write to operations fails: the import cannot progress nor end, so it stays not done.
        fault = sqlite3.connect(data / "service.sqlite3", isolation_level=None)
        fault.executescript(
            "CREATE TABLE fault(on_ INTEGER); INSERT INTO fault VALUES (1);"
            "CREATE TRIGGER refuse BEFORE UPDATE ON operations WHEN EXISTS (SELECT 1 FROM fault) "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END;"
        )
        held = _vertex_csv(storage, "copies_held", ["IMG_2385.JPG"])
        op = clients.datasets.import_data(name=dataset.name, import_configs=[import_config(held)])
        # the import failed without recording it, and the scheduler's try to end it for it was refused too
        wait_for(lambda: "scheduler iteration failed" in running.log_path.read_text(), 30, "a refused end")
        assert not op.done()
        [copy] = _work_files(storage)
        assert copy.read_text().startswith(f"TRAIN,gs://{BUCKET}/copies_held/IMG_2385.JPG,ace,")
        fault.execute("DELETE FROM fault")
        fault.close()
        with pytest.raises(exceptions.GoogleAPICallError, match="without recording an outcome"):
            op.result(timeout=30)
        wait_for(lambda: not _work_entries(storage), 10, "the converted CSV of a failed import to go")


def test_converted_files_go_when_no_job_reads_them(tmp_path):
    """No valid row (the operation ends at once), or a second file refused as a whole (the request fails):
    nothing is left in the work bucket."""
    data, storage = tmp_path / "data", tmp_path / "gcs"
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        clients = grpc_clients(running.grpc_target)
        dataset = create_dataset(clients, "no job")
        folder = storage / BUCKET / "no_job"
        folder.mkdir(parents=True)
        (folder / "bad.csv").write_text("sometimes,gs://test-bucket/no_job/a.jpg\n")
        (folder / "notes.txt").write_text("not an import file\n")
        op = clients.datasets.import_data(
            name=dataset.name, import_configs=[import_config(f"gs://{BUCKET}/no_job/bad.csv")]
        )
        with pytest.raises(exceptions.GoogleAPICallError, match="No valid rows"):
            op.result(timeout=30)
        assert _work_entries(storage) == []
        good = _vertex_csv(storage, "no_job_good", ["IMG_2386.JPG"])
        with pytest.raises(exceptions.InvalidArgument, match="end in .csv or .jsonl"):
            clients.datasets.import_data(
                name=dataset.name, import_configs=[import_config(good, f"gs://{BUCKET}/no_job/notes.txt")]
            )
        assert _work_entries(storage) == []
        assert clients.datasets.get_dataset(name=dataset.name).data_item_count == 0


def test_converted_files_of_an_import_interrupted_too_often_go_when_it_ends_aborted(tmp_path):
    data, storage = tmp_path / "data", tmp_path / "gcs"
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        dataset = create_dataset(grpc_clients(running.grpc_target), "aborted")
    config = ServiceConfig(data_dir=data, storage_root=storage)
    source = _vertex_csv(storage, "aborted", ["IMG_2387.JPG"])
    converted = import_files.convert(config, [(source, "import_configs[0].gcs_source.uris")], "w1")
    assert len(_work_files(storage)) == 1
    store = Store(config.db_path)
    with store.tx() as db:  # what the service held when it stopped for the last time during this import
        op = operations.start(db, PARENT, dataset.name, "import_data_details")
        job = ImportJob(dataset=dataset.name, uris=converted.uris, remove_when_done=True)
        Store.insert_job(db, op.name, job)
        db.execute("UPDATE jobs SET state='running', attempts=? WHERE op_name=?", (MAX_ATTEMPTS, op.name))
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        ended = finished(automl_clients(running.grpc_target)[0], op.name, timeout_s=30)
        assert ended.error.code == 10  # ABORTED
        assert _work_entries(storage) == []
        assert grpc_clients(running.grpc_target).datasets.get_dataset(name=dataset.name).data_item_count == 0


def test_copies_no_queued_job_will_read_go_at_start_up(tmp_path):
    """A job row this version cannot read, and a request killed after converting its files but before
    queuing its job, leave copies no job will remove; the next start removes them and keeps a queued job's."""
    data, storage = tmp_path / "data", tmp_path / "gcs"
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        dataset = create_dataset(grpc_clients(running.grpc_target), "leftovers")
    config = ServiceConfig(data_dir=data, storage_root=storage)

    def convert(name: str, picture: str) -> list[str]:
        source = _vertex_csv(storage, name, [picture])
        return import_files.convert(config, [(source, "import_configs[0].gcs_source.uris")], name).uris

    queued, unreadable = convert("queued", "IMG_2388.JPG"), convert("unreadable", "IMG_2389.JPG")
    convert("killed", "IMG_2390.JPG")  # no job: the server died before it queued one
    with Store(config.db_path).tx() as db:
        op = operations.start(db, PARENT, dataset.name, "import_data_details")
        Store.insert_job(db, op.name, ImportJob(dataset=dataset.name, uris=queued, remove_when_done=True))
        bad = operations.start(db, PARENT, dataset.name, "import_data_details")
        Store.insert_job(
            db, bad.name, ImportJob(dataset=dataset.name, uris=unreadable, remove_when_done=True)
        )
        db.execute("UPDATE jobs SET payload='{not json' WHERE op_name=?", (bad.name,))
    assert len(_work_files(storage)) == 3

    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        client = automl_clients(running.grpc_target)[0]
        assert not finished(client, op.name, timeout_s=60).HasField("error")  # its copy was there to read
        assert finished(client, bad.name, timeout_s=30).error.code == 13  # INTERNAL: cannot run the job
        assert grpc_clients(running.grpc_target).datasets.get_dataset(name=dataset.name).data_item_count == 1
        wait_for(lambda: not _work_entries(storage), 10, "every copy to go")
        log = running.log_path.read_text()
    removed = set(re.findall(r"removed the import copy (\S+): no job will read it", log))
    assert removed == {*unreadable, f"gs://{import_files.WORK_BUCKET}/killed/0.csv"}


def test_the_work_bucket_is_neither_an_import_source_nor_an_export_destination(tmp_path):
    """The service's start deletes every file there that no queued import claims."""
    storage = tmp_path / "gcs"
    with ServiceProcess(tmp_path / "data", storage_root=storage, workers=0) as running:
        clients = grpc_clients(running.grpc_target)
        dataset = create_dataset(clients, "work bucket")
        planted = storage / import_files.WORK_BUCKET / "planted" / "vertex.csv"
        planted.parent.mkdir(parents=True)
        shutil.copy(storage / write_vertex_csv(storage, "planted")[len("gs://") :], planted)
        uri = f"gs://{import_files.WORK_BUCKET}/planted/vertex.csv"
        with pytest.raises(exceptions.InvalidArgument) as raised:
            clients.datasets.import_data(name=dataset.name, import_configs=[import_config(uri)])
        assert raised.value.message.startswith(f"import_configs[0].gcs_source.uris: {uri!r}")
        field = "output_config.artifact_destination.output_uri_prefix"
        with pytest.raises(exceptions.InvalidArgument, match=f"{field}: .*{import_files.WORK_BUCKET}"):
            # the destination is checked before the model is looked up, as every argument is
            clients.models.export_model(
                name=f"{PARENT}/models/IOD404",
                output_config={
                    "export_format_id": "tflite",
                    "artifact_destination": {"output_uri_prefix": f"gs://{import_files.WORK_BUCKET}/e/"},
                },
            )


def test_errors_about_a_vertex_operation_name_it_not_the_automl_one_behind_it(tmp_path):
    storage = tmp_path / "gcs"
    with ServiceProcess(tmp_path / "data", storage_root=storage, workers=0) as running:
        clients = grpc_clients(running.grpc_target)
        dataset = create_dataset(clients, "queued import")
        uri = _vertex_csv(storage, "queued", ["IMG_2383.JPG"])
        op = clients.datasets.import_data(name=dataset.name, import_configs=[import_config(uri)])
        request = operations_pb2.DeleteOperationRequest(name=op.operation.name)
        with pytest.raises(exceptions.FailedPrecondition) as raised:
            clients.datasets.delete_operation(request)  # no worker: the import stays queued
        assert raised.value.message.startswith(f"Operation {op.operation.name} is still running")
