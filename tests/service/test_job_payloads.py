"""Jobs reach their workers as typed payloads: rows written by earlier versions (plain JSON) still load,
and a row no version can run ends its operation instead of being claimed again and again."""

from __future__ import annotations

import json

import pytest
from google.longrunning import operations_pb2

from edgetrain_service import operations
from edgetrain_service.config import ServiceConfig
from edgetrain_service.job_payloads import ExportJob, ImportJob, TrainJob, decode, encode
from edgetrain_service.jobs import Scheduler
from edgetrain_service.store import Store

from .conftest import PARENT, wait_for

EARLIER_TRAIN_ROW = {  # what CreateModel stored before payloads were typed (no "overrides")
    "model": f"{PARENT}/models/IOD1",
    "dataset": f"{PARENT}/datasets/IOD2",
    "display_name": "cards",
    "model_type": "mobile-versatile-1",
    "budget": 1000,
    "create_time": "2026-12-01T10:00:00Z",
    "labels": {"suite": "x"},
}


def test_rows_of_every_kind_round_trip_and_earlier_rows_load():
    jobs = [
        ImportJob(dataset=f"{PARENT}/datasets/IOD2", uris=["gs://b/a.csv"]),
        TrainJob(**EARLIER_TRAIN_ROW, overrides={"max_epochs": 1}),
        ExportJob(model=f"{PARENT}/models/IOD1", format="tflite", dest="/x/y"),
    ]
    for job in jobs:
        assert decode(job.kind, encode(job)) == job
    earlier = decode("train", json.dumps(EARLIER_TRAIN_ROW))
    assert earlier.budget == 1000 and earlier.labels == {"suite": "x"} and earlier.overrides == {}


@pytest.mark.parametrize(
    "kind, text", [("train", json.dumps({"model": "m"})), ("resize", json.dumps({"model": "m"}))]
)
def test_a_row_that_cannot_be_read_is_a_value_error(kind, text):
    with pytest.raises(ValueError, match="incomplete|unknown job kind"):
        decode(kind, text)


def test_a_queued_row_that_cannot_be_run_ends_its_operation(tmp_path):
    config = ServiceConfig(data_dir=tmp_path, storage_root=tmp_path / "gcs")
    store = Store(config.db_path)
    with store.tx() as db:
        op = operations.start(db, PARENT, f"{PARENT}/models/IOD1", "create_model_details")
        db.execute(
            "INSERT INTO jobs(op_name, kind, payload) VALUES(?,?,?)", (op.name, "train", json.dumps({}))
        )
    scheduler = Scheduler(store, config)
    scheduler.start()
    try:
        request = operations_pb2.GetOperationRequest(name=op.name)
        ended = wait_for(lambda: (o := operations.get_operation(store, request)).done and o, 10, "the op")
    finally:
        scheduler.stop()
    assert ended.error.code == 13 and "Cannot run the job" in ended.error.message
    assert store.query_one("SELECT state FROM jobs WHERE op_name=?", (op.name,))["state"] == "finished"
