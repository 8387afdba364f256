"""SIGKILL at any moment loses nothing acknowledged: after a restart the interrupted training runs again
and finishes, queued work continues, and a training interrupted too often ends FAILED, never RUNNING."""

from __future__ import annotations

import json
import time

from google.cloud import automl_v1
from google.longrunning import operations_pb2

from edgetrain_service import operations
from edgetrain_service.config import ServiceConfig
from edgetrain_service.jobs import MAX_TRAIN_ATTEMPTS, Scheduler
from edgetrain_service.process import ServiceProcess
from edgetrain_service.store import Store

from .conftest import (
    PARENT,
    TINY_TRAINER,
    TRAIN_TIMEOUT_S,
    create_imported_dataset,
    grpc_clients,
    start_training,
    write_cards_subset,
)


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _metadata(client, name: str) -> tuple[bool, automl_v1.OperationMetadata]:
    op = client.transport.operations_client.get_operation(name)
    return op, automl_v1.OperationMetadata.deserialize(op.metadata.value)


def test_sigkill_mid_training_then_restart(tmp_path):
    data, storage = tmp_path / "data", tmp_path / "gcs"
    first = ServiceProcess(data, storage_root=storage, trainer_overrides=TINY_TRAINER, workers=1).start()
    try:
        client, _ = grpc_clients(first.grpc_target)
        uri = write_cards_subset(storage, "durable", {"TRAIN": 10, "TEST": 2})
        dataset = create_imported_dataset(client, "durable", uri)
        running = start_training(client, dataset, "interrupted", "mobile-low-latency-1").operation.name
        queued = start_training(client, dataset, "queued", "mobile-low-latency-1").operation.name
        _wait_for(
            lambda: _metadata(client, running)[1].progress_percent >= 5, 300, "training to be under way"
        )
    finally:
        first.kill()  # SIGKILL, the server and its worker processes at once

    with ServiceProcess(data, storage_root=storage, trainer_overrides=TINY_TRAINER, workers=1) as second:
        client, _ = grpc_clients(second.grpc_target)
        assert client.get_dataset(name=dataset.name).example_count == 12
        ops = client.transport.operations_client
        names = {op.name for op in ops.list_operations(PARENT, filter_="")}
        assert {running, queued} <= names
        finished = _wait_for(
            lambda: (op := ops.get_operation(running)).done and op,
            TRAIN_TIMEOUT_S,
            "the interrupted training to finish",
        )
        assert not finished.HasField("error"), finished.error
        model = automl_v1.Model.deserialize(finished.response.value)
        assert client.get_model(name=model.name).display_name == "interrupted"
        # The queued training starts after the restart; cancelling it ends it with code 1, not RUNNING.
        _wait_for(
            lambda: _metadata(client, queued)[1].progress_percent > 0 or ops.get_operation(queued).done,
            300,
            "the queued training to start",
        )
        ops.cancel_operation(queued)
        cancelled = _wait_for(lambda: (op := ops.get_operation(queued)).done and op, 300, "the cancellation")
        assert cancelled.error.code == 1


def test_training_interrupted_too_often_ends_failed_with_a_clear_message(tmp_path):
    config = ServiceConfig(data_dir=tmp_path, storage_root=tmp_path / "gcs")
    store = Store(config.db_path)
    with store.tx() as db:
        op = operations.start(db, PARENT, f"{PARENT}/models/IOD1", "create_model_details")
        Store.insert_job(db, op.name, "train", json.dumps({}))
        db.execute(
            "UPDATE jobs SET state='running', attempts=? WHERE op_name=?", (MAX_TRAIN_ATTEMPTS, op.name)
        )
    Scheduler(store, config).recover()
    failed = operations.get_operation(store, operations_pb2.GetOperationRequest(name=op.name))
    assert failed.done and failed.error.code == 10
    assert "interrupted" in failed.error.message and "Create the model again" in failed.error.message
