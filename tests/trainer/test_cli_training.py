"""`edgetrain train` for real on a few bundled BCCD images: a package and a summary; Ctrl-C leaves nothing."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "edgetrain" / "sample_data" / "bccd_sample"
# CI-sized: 128 px input, one head epoch on cached features, no fine-tuning.
TINY = {
    "max_epochs": 1,
    "input_size": 128,
    "cache_views": 1,
    "calibration_images": 4,
    "head_batch_size": 4,
    "finetune": False,
}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SAMPLE.is_dir(), reason="bundled sample data missing")]


def small_csv(folder: Path, train=10, validation=3, test=3) -> Path:
    """The first images of each split of the bundled sample, absolute paths, plus a bad row on line 3."""
    wanted = {"TRAIN": train, "VALIDATION": validation, "TEST": test}
    chosen: set[str] = set()
    rows = []
    with open(SAMPLE / "annotations.csv", newline="") as source:
        for row in csv.reader(source):
            if row[1] not in chosen:
                if wanted[row[0]] == 0:
                    continue
                wanted[row[0]] -= 1
                chosen.add(row[1])
            rows.append([row[0], str(SAMPLE / row[1]), *row[2:]])
    rows.insert(
        2,
        ["TRAIN", str(SAMPLE / "images" / "missing.jpg"), "RBC", "0.1", "0.1", "", "", "0.5", "0.5", "", ""],
    )
    path = folder / "small.csv"
    path.write_text("".join(",".join(r) + "\n" for r in rows))
    return path


def command(csv_path: Path, out: Path, overrides: dict, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "edgetrain_trainer.cli", "--csv", str(csv_path), "--out", str(out),
        "--model-type", "mobile-low-latency-1", "--budget-milli-node-hours", "1000",
        "--overrides", json.dumps(overrides), *extra,
    ]  # fmt: skip


def test_train_writes_a_package_and_a_summary(tmp_path):
    out = tmp_path / "run"
    argv = command(small_csv(tmp_path), out, TINY, "--export-format", "tflite", "tf_saved_model")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900)

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"bad row: {tmp_path / 'small.csv'}:3: image file not found" in result.stderr
    assert "[data]" in result.stderr and "[head]" in result.stderr  # the progress display
    summary = result.stdout
    expected_lines = [
        "Trained mobile-low-latency-1 (Platelets, RBC, WBC): ",
        "milli node hours (budget 1,000)",
        "(TEST rows, exported int8 TF Lite)",
        "mAP@[.5:.95]",
        "ms (median, 2 threads)",
        f"package       {out / 'package'}",
        f"tf_saved_model {out / 'tf_saved_model'}",
        "bad rows      1 skipped",
    ]
    for expected in expected_lines:
        assert expected in summary
    assert any(reason in summary for reason in ("MODEL_CONVERGED", "BUDGET_REACHED"))
    package = out / "package"
    assert {"model.tflite", "dict.txt", "tflite_metadata.json", "evaluation.json"} <= {
        p.name for p in package.iterdir()
    }
    assert (package / "dict.txt").read_text().split() == ["Platelets", "RBC", "WBC"]
    evaluation = json.loads((package / "evaluation.json").read_text())
    assert len(evaluation["imageObjectDetectionEvaluationMetrics"]["boundingBoxMetricsEntries"]) == 23
    assert (out / "tf_saved_model" / "saved_model.pb").is_file()


def test_ctrl_c_cancels_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "run"
    slow = {**TINY, "max_epochs": 50, "finetune": True}  # far more work than the test waits for
    process = subprocess.Popen(
        command(small_csv(tmp_path), out, slow), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        seen = ""
        for line in process.stderr:  # wait until training has really started
            seen += line
            if "train / " in line:
                break
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 130, (seen + stderr)[-3000:]
    assert "cancelling" in stderr
    assert f"nothing was written to {out}" in stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["small.csv"]  # no half-written sibling either
    assert "Trained" not in stdout
