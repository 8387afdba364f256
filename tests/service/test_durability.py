"""SIGKILL at any moment loses nothing acknowledged: after a restart the interrupted training runs again
and finishes, queued work continues, and a training interrupted too often ends FAILED, never RUNNING.
A queue-only service (--workers 0) keeps trainings queued for the next start with a worker."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest
from google.api_core import exceptions
from google.cloud import automl_v1
from google.longrunning import operations_pb2

from edgetrain_service import operations
from edgetrain_service.config import ServiceConfig
from edgetrain_service.job_payloads import ExportJob, ImportJob, TrainJob
from edgetrain_service.jobs import MAX_ATTEMPTS, Scheduler
from edgetrain_service.process import ServiceProcess, ServiceStartError
from edgetrain_service.store import Store

from .conftest import (
    PARENT,
    TINY_TRAINER,
    create_imported_dataset,
    finished,
    grpc_clients,
    operation_metadata,
    start_training,
    wait_for_progress,
    write_cards_subset,
)

TRAIN_JOB = TrainJob(
    model=f"{PARENT}/models/IOD1",
    dataset=f"{PARENT}/datasets/IOD1",
    display_name="m",
    model_type="mobile-low-latency-1",
    budget=1000,
    create_time="2026-12-06T00:00:00Z",
)


def test_sigkill_mid_training_then_restart(client, trainings, dataset):
    """`trainings` SIGKILLed the service while both trainings were under way and a third was queued."""
    ops = client.transport.operations_client
    assert client.get_dataset(name=dataset.name).example_count == 24  # acknowledged state survived
    for name in trainings.operations:
        op = ops.get_operation(name)
        assert op.done and not op.HasField("error")  # the interrupted training ran again and finished
    assert client.get_model(name=trainings.low_latency.name).display_name == "cards_low_latency"
    # The queued training was dispatched after the restart (it reported progress before it was cancelled).
    outcome = trainings.queued_outcome
    assert outcome.done and outcome.error.code == 1
    assert automl_v1.OperationMetadata.deserialize(outcome.metadata.value).progress_percent >= 5
    assert not list(ops.list_operations(PARENT, filter_=f"done=false AND worksOn={PARENT}/models/*"))


def test_training_interrupted_too_often_ends_failed_with_a_clear_message(tmp_path):
    config = ServiceConfig(data_dir=tmp_path, storage_root=tmp_path / "gcs")
    store = Store(config.db_path)
    with store.tx() as db:
        op = operations.start(db, PARENT, f"{PARENT}/models/IOD1", "create_model_details")
        Store.insert_job(db, op.name, TRAIN_JOB)
        db.execute("UPDATE jobs SET state='running', attempts=? WHERE op_name=?", (MAX_ATTEMPTS, op.name))
    Scheduler(store, config).recover()
    failed = operations.get_operation(store, operations_pb2.GetOperationRequest(name=op.name))
    assert failed.done and failed.error.code == 10
    assert "interrupted" in failed.error.message and "Create the model again" in failed.error.message


def test_queue_only_service_keeps_trainings_queued_until_a_worker_starts(tmp_path):
    """--workers 0 accepts CreateModel and runs nothing; the next start with a worker runs the queue."""
    data, storage = tmp_path / "data", tmp_path / "gcs"
    with ServiceProcess(data, storage_root=storage, trainer_overrides=TINY_TRAINER, workers=0) as queue_only:
        client = grpc_clients(queue_only.grpc_target)[0]
        dataset = create_imported_dataset(client, "queued", write_cards_subset(storage, "queued"))
        op = start_training(client, dataset, "queued_model", "mobile-low-latency-1").operation
        time.sleep(3)  # the scheduler dispatches within a fraction of a second when it may
        assert not client.transport.operations_client.get_operation(op.name).done
        assert operation_metadata(client, op.name).progress_percent == 0
        # Deleting an operation that is not done is refused: its row is what the job's outcome is written to.
        with pytest.raises(exceptions.FailedPrecondition, match="still running"):
            client.transport.operations_client.delete_operation(op.name)
        assert not client.transport.operations_client.get_operation(op.name).done
    with ServiceProcess(data, storage_root=storage, trainer_overrides=TINY_TRAINER, workers=1) as running:
        client = grpc_clients(running.grpc_target)[0]
        wait_for_progress(client, op.name, 1, 120, "the training to start")
        client.transport.operations_client.cancel_operation(op.name)
        assert finished(client, op.name, timeout_s=120).error.code == 1
        client.transport.operations_client.delete_operation(op.name)  # done: the caller may forget it
        with pytest.raises(exceptions.NotFound):
            client.transport.operations_client.get_operation(op.name)


def test_a_job_whose_operation_was_deleted_is_not_run_again(tmp_path):
    """A data dir written before DeleteOperation refused running operations can hold a 'running' job with no
    operation: the restart must not train (or import, or export) again; the job ends there."""
    config = ServiceConfig(data_dir=tmp_path, storage_root=tmp_path / "gcs")
    store = Store(config.db_path)
    with store.tx() as db:
        op = operations.start(db, PARENT, f"{PARENT}/models/IOD1", "create_model_details")
        Store.insert_job(db, op.name, TRAIN_JOB)
        db.execute("UPDATE jobs SET state='running', attempts=1 WHERE op_name=?", (op.name,))
        db.execute("DELETE FROM operations WHERE name=?", (op.name,))
    Scheduler(store, config).recover()
    assert store.query_one("SELECT state FROM jobs WHERE op_name=?", (op.name,))["state"] == "finished"


@pytest.mark.parametrize(
    "job, again",
    [
        (ImportJob(dataset=f"{PARENT}/datasets/IOD1", uris=["gs://b/x.csv"]), "import again"),
        (ExportJob(model=f"{PARENT}/models/IOD1", format="tflite", dest="/tmp/x"), "Export the model again"),
    ],
)
def test_every_job_kind_has_an_attempt_limit(tmp_path, job, again):
    """An import or export that crashes the server must not be re-run at every start (a systemd loop)."""
    config = ServiceConfig(data_dir=tmp_path, storage_root=tmp_path / "gcs")
    store = Store(config.db_path)
    with store.tx() as db:
        op = operations.start(db, PARENT, f"{PARENT}/datasets/IOD1", "import_data_details")
        Store.insert_job(db, op.name, job)
        db.execute("UPDATE jobs SET state='running', attempts=? WHERE op_name=?", (MAX_ATTEMPTS, op.name))
    Scheduler(store, config).recover()
    failed = operations.get_operation(store, operations_pb2.GetOperationRequest(name=op.name))
    assert failed.done and failed.error.code == 10
    assert f"interrupted {MAX_ATTEMPTS} times" in failed.error.message and again in failed.error.message
    assert store.query_one("SELECT state FROM jobs WHERE op_name=?", (op.name,))["state"] == "finished"


def test_a_second_server_on_the_same_data_dir_exits_at_once(tmp_path):
    with ServiceProcess(tmp_path / "data", storage_root=tmp_path / "gcs", workers=0):
        second = subprocess.run(
            [sys.executable, "-m", "edgetrain_service.cli", "--data-dir", str(tmp_path / "data")]
            + ["--grpc-port", "0", "--rest-port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "another edgetrain serve" in second.stderr and str(tmp_path / "data") in second.stderr


def test_an_outcome_the_database_refused_is_written_once_it_accepts_again(tmp_path):
    """The import's own writes and the scheduler's first attempt to end its operation fail (a real SQLite
    error, from a trigger); the operation must not stay RUNNING: it ends once writes succeed again."""
    data, storage = tmp_path / "data", tmp_path / "gcs"
    with ServiceProcess(data, storage_root=storage, workers=0) as running:
        client = grpc_clients(running.grpc_target)[0]
        uri = write_cards_subset(storage, "refused", {"TRAIN": 2, "TEST": 1})
        dataset = client.create_dataset(
            parent=PARENT, dataset={"display_name": "refused", "image_object_detection_dataset_metadata": {}}
        ).result()
        fault = sqlite3.connect(data / "service.sqlite3", isolation_level=None)
        fault.executescript(
            "CREATE TABLE fault(on_ INTEGER); INSERT INTO fault VALUES (1);"
            "CREATE TRIGGER refuse BEFORE UPDATE ON operations WHEN EXISTS (SELECT 1 FROM fault) "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END;"
        )
        op = client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [uri]}})
        time.sleep(3)  # the import ran and failed to record anything; the scheduler retried and failed
        assert not client.transport.operations_client.get_operation(op.operation.name).done
        fault.execute("DELETE FROM fault")
        ended = finished(client, op.operation.name, timeout_s=30)
        assert ended.error.code == 13 and "without recording an outcome" in ended.error.message
        fault.close()


def test_service_process_reports_a_server_that_exits_at_start_with_its_log(tmp_path):
    with ServiceProcess(tmp_path / "data", storage_root=tmp_path / "gcs", workers=0):
        second = ServiceProcess(tmp_path / "data", storage_root=tmp_path / "gcs", startup_timeout=60)
        with pytest.raises(ServiceStartError, match="another edgetrain serve") as raised:
            second.start()
        assert "exited with code 1" in str(raised.value)
        assert second.process.poll() == 1
