"""The learning curve a running training writes for the pipeline: one point per epoch, rewritten whole."""

from __future__ import annotations

import json

from edgetrain_service.config import ServiceConfig
from edgetrain_service.job_payloads import TrainJob
from edgetrain_service.training import _curve
from edgetrain_trainer.types import Progress

OP = "projects/p/locations/us-central1/operations/IOD123"


def test_each_epoch_adds_a_point_and_phase_changes_rewrite_the_object(tmp_path):
    config = ServiceConfig(
        data_dir=tmp_path / "data", storage_root=tmp_path / "gcs", progress_uri_prefix="gs://bkt/curves/"
    )
    job = TrainJob(
        model="projects/p/locations/us-central1/models/IOD1",
        dataset="projects/p/locations/us-central1/datasets/IOD2",
        display_name="m",
        model_type="mobile-versatile-1",
        budget=1000,
        create_time="2026-12-06T00:00:00Z",
    )
    curve = _curve(config, OP, job)
    path = tmp_path / "gcs" / "bkt" / "curves" / "IOD123.json"
    assert curve is not None and curve.path == path

    curve.record(Progress(2.0, "data", message="loading"))
    assert json.loads(path.read_text())["points"] == []
    curve.record(Progress(20.0, "head", 1, {"total": 1.5, "box": 0.5}, 0.25))
    curve.record(Progress(21.0, "head", message="still in the head stage"))  # nothing new: not rewritten
    curve.record(Progress(40.0, "head", 2, {"total": 1.2}, 0.4))

    written = json.loads(path.read_text())
    assert [(p["stage"], p["epoch"], p["loss"], p["valMap50"], p["percent"]) for p in written["points"]] == [
        ("head", 1, 1.5, 0.25, 20.0),
        ("head", 2, 1.2, 0.4, 40.0),
    ]
    assert written["operation"] == OP and written["budgetMilliNodeHours"] == 1000
    assert written["percent"] == 40.0 and written["phase"] == "head"
    assert not list(path.parent.glob(".*"))  # no partial file left behind


def test_no_prefix_writes_no_curve(tmp_path):
    config = ServiceConfig(data_dir=tmp_path / "data", storage_root=tmp_path / "gcs")
    assert _curve(config, OP, None) is None
