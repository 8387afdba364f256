"""benchmarks.studies.trainer_reexport: a trained run exported again with today's export code and evaluated
on TEST, its training figures kept, the original package left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.studies.trainer_reexport import reexport, select_runs
from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.data.images import load_rgb
from edgetrain_trainer.export.package import export_model
from edgetrain_trainer.export.tflite_detector import TFLiteDetector
from tests.trained import CARDS_SMALL

pytestmark = pytest.mark.slow

LOW = "mobile-low-latency-1"


@pytest.fixture(scope="module")
def trained_run(cards_training, tmp_path_factory):
    """A copy of the session's cards training exported with one class per box (calibrated on 4 images), its
    model directory then made to look like one saved before classes_per_detection existed."""
    root = tmp_path_factory.mktemp("reexport")
    (root / "data").mkdir()
    (root / "data" / "cards").symlink_to(CARDS_SMALL.resolve())
    trained = cards_training.result
    model_dir = root / "run" / "out" / "model"
    shutil.copytree(trained.model_dir, model_dir)
    info_path = model_dir / "trainer.json"
    info = json.loads(info_path.read_text())
    info["config"] |= {"classes_per_detection": 1, "calibration_images": 4}
    info_path.write_text(json.dumps(info))
    np.save(model_dir / "calibration.npy", np.load(model_dir / "calibration.npy")[:4])
    package_dir = export_model(model_dir, "tflite", model_dir.parent / "package")
    del info["config"]["classes_per_detection"]
    info_path.write_text(json.dumps(info))
    record = {
        "status": "ok",
        "started": "2026-11-29T06:10:13+00:00",
        "dataset": "cards",
        "model_type": LOW,
        "overrides": {},
        "map50": trained.map50,
        "map50_float32": 0.5,
        "int8_map50_loss": 0.01,
        "wall_s": trained.wall_seconds,
        "stop_reason": trained.stop_reason.value,
        "peak_rss_bytes": 3_000_000_000,
        "package_dir": str(package_dir),
        "git": {"commit": "24820bc000", "dirty": False},
    }
    return record, root / "data"


def test_reexport_measures_a_new_package_and_keeps_the_training_figures(trained_run):
    original, data_root = trained_run
    old_package = Path(original["package_dir"])
    old_model = (old_package / "model.tflite").read_bytes()
    again = reexport(original, old_package.parent / "model", data_root)

    new_package = Path(again["package_dir"])
    assert new_package != old_package and new_package.parent == old_package.parent
    assert json.loads((old_package / "tflite_metadata.json").read_text())["classesPerDetection"] == 1
    assert json.loads((new_package / "tflite_metadata.json").read_text())["classesPerDetection"] == 2
    assert (old_package / "model.tflite").read_bytes() == old_model
    assert again["size_bytes"] == (new_package / "model.tflite").stat().st_size
    for kept in ("started", "wall_s", "stop_reason", "peak_rss_bytes", "git", "overrides"):
        assert again[kept] == original[kept]
    assert "map50_float32" not in again and "int8_map50_loss" not in again  # they described the old export
    assert 0.0 <= again["map50"] <= 1.0 and again["latency_ms_median_2threads"] > 0
    assert again["targets"]["met"]["map50"] == (again["map50"] >= 0.95)
    assert again["reexport"]["of_package_dir"] == str(old_package)
    assert again["reexport"]["of_map50"] == original["map50"]
    assert again["reexport"]["git"]["commit"]


def test_a_reexport_at_another_score_threshold_records_it_as_the_packages_setting(trained_run):
    """The record of an export at another threshold carries that threshold in trainer_config, so the trainer
    table marks it as exported at today's default (or not); the training's recipe is otherwise the same."""
    original, data_root = trained_run
    original = {**original, "trainer_config": {**TrainerConfig().to_dict(), "score_threshold": 0.01}}
    model_dir = Path(original["package_dir"]).parent / "model"
    spec_before = (model_dir / "trainer.json").read_bytes()

    again = reexport(original, model_dir, data_root, score_threshold=0.001)

    assert (model_dir / "trainer.json").read_bytes() == spec_before  # the trained model is left as it was
    assert again["trainer_config"] == {**original["trainer_config"], "score_threshold": 0.001}
    assert again["reexport"]["score_threshold"] == 0.001
    # most of a small model's 100 boxes score low: this package keeps those under the default 0.05, none
    # under 0.001
    detector = TFLiteDetector(Path(again["package_dir"]))
    images = sorted((CARDS_SMALL / "images").iterdir())[:4]
    best = np.concatenate([detector.detect(load_rgb(i)).scores[:: detector.classes_per_box] for i in images])
    assert best.min() >= 0.001 and best.min() < TrainerConfig().score_threshold


def test_runs_are_chosen_by_start_or_as_the_latest_default_recipe():
    def run(started, overrides=None, status="ok"):
        return {
            "status": status,
            "started": started,
            "dataset": "cards",
            "model_type": LOW,
            "overrides": overrides or {},
            "trainer_config": TrainerConfig.from_overrides(overrides).to_dict(),
        }

    records = [run("2026-11-29T06:10"), run("2026-11-29T07:00", {"patience": 100}), run("2026-11-29T08:00")]
    assert [r["started"] for r in select_runs(records, [])] == ["2026-11-29T08:00"]
    assert [r["started"] for r in select_runs(records, ["2026-11-29T06", "2026-11-29T07"])] == [
        "2026-11-29T06:10",
        "2026-11-29T07:00",
    ]
