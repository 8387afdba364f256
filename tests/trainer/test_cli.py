"""`edgetrain train` argument and data errors (exit 2, clear message), progress display and summary."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from edgetrain_trainer import cli, cli_terminal
from edgetrain_trainer.types import Progress, StopReason, TrainRequest, TrainResult


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="edgetrain train")
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(list(argv)))


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    Image.new("RGB", (64, 48), (120, 30, 30)).save(tmp_path / "a.jpg")
    path = tmp_path / "data.csv"
    path.write_text("TRAIN,a.jpg,cat,0.1,0.1,,,0.5,0.5,,\n")
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--overrides", "{max_epochs: 1}"], "--overrides: not valid JSON"),
        (["--overrides", '{"max_epochz": 1}'], "error: --overrides: unknown trainer setting 'max_epochz'"),
        (["--overrides", "[1, 2]"], "--overrides: must be a JSON object"),
    ],
)
def test_invalid_arguments_exit_2_with_the_reason(csv_path, tmp_path, capsys, extra, message):
    code = run_cli("--csv", str(csv_path), "--out", str(tmp_path / "out"), *extra)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("999", "999 is outside 1,000–100,000"),
        ("100001", "100,001 is outside 1,000–100,000"),
        ("lots", "'lots' is not a whole number of milli node hours"),
    ],
)
def test_a_budget_outside_automls_range_is_refused_by_its_flag(csv_path, tmp_path, capsys, value, message):
    """The message named the API field trainBudgetMilliNodeHours, not the flag."""
    with pytest.raises(SystemExit) as caught:
        run_cli("--csv", str(csv_path), "--out", str(tmp_path / "out"), "--budget-milli-node-hours", value)
    assert caught.value.code == 2
    assert f"error: argument --budget-milli-node-hours: {message}" in capsys.readouterr().err


def test_a_budget_may_be_written_with_thousands_separators(csv_path, tmp_path):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--csv", str(csv_path), "--out", "x", "--budget-milli-node-hours", "24,000"])
    assert args.budget_milli_node_hours == 24_000


def test_missing_data_exits_2(tmp_path, capsys):
    assert run_cli("--csv", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out")) == 2
    assert "--csv: " in capsys.readouterr().err
    assert run_cli("--voc", str(tmp_path / "nope"), "--out", str(tmp_path / "out")) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--out", "x"],  # no data
        ["--csv", "a.csv", "--voc", "dir", "--out", "x"],  # both
        ["--csv", "a.csv"],  # no --out
        ["--csv", "a.csv", "--out", "x", "--model-type", "cloud-high-accuracy-1"],
        ["--csv", "a.csv", "--out", "x", "--quantization", "int4"],
        ["--csv", "a.csv", "--out", "x", "--export-format", "onnx"],
        ["--csv", "a.csv", "--out", "x", "--budget-milli-node-hours", "lots"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        run_cli(*argv)
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_unusable_data_lists_bad_rows_with_line_numbers_and_exits_2(csv_path, tmp_path, capsys):
    csv_path.write_text("TRAINX,a.jpg,cat,0.1,0.1,,,0.5,0.5,,\nTRAIN,a.jpg,cat,0.5,0.1,,,0.4,0.5,,\n")
    code = run_cli("--csv", str(csv_path), "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err
    assert code == 2
    assert f"bad row: {csv_path}:1: ML_USE 'TRAINX' must be one of" in err
    assert f"bad row: {csv_path}:2: X_MIN 0.5 must be less than X_MAX 0.4" in err
    assert "no image has a valid box (2 rows read, 2 bad, listed above)" in err


def test_a_voc_folder_without_annotations_says_what_it_looked_for(tmp_path, capsys):
    """It said "no usable rows (0 bad rows, listed above)" and listed nothing."""
    (tmp_path / "voc").mkdir()
    code = run_cli("--voc", str(tmp_path / "voc"), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "no annotations found (a Pascal VOC folder holds Annotations/*.xml" in capsys.readouterr().err


def test_an_output_path_under_a_file_is_a_usage_error(csv_path, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("user data")
    code = run_cli("--csv", str(csv_path), "--out", str(tmp_path / "notes.txt" / "run"))
    assert code == 2
    err = capsys.readouterr().err
    assert f"error: --out: {tmp_path / 'notes.txt'} exists and is not a folder" in err
    assert "%" not in err  # refused before the progress bar appears


def test_export_formats_are_deduplicated_and_default_to_tflite(csv_path, tmp_path):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    base = ["--csv", str(csv_path), "--out", str(tmp_path / "o")]
    assert cli._request(parser.parse_args(base)).export_formats == ("tflite",)
    args = parser.parse_args(base + ["--export-format", "tflite", "tf_js", "--export-format", "tflite"])
    request = cli._request(args)
    assert request.export_formats == ("tflite", "tf_js")
    assert request.model_type == "mobile-versatile-1"
    assert request.budget_milli_node_hours == 24_000


def test_progress_bar_shows_phase_epoch_losses_and_validation_map(capsys):
    with cli_terminal.ProgressBar() as bar:
        bar.update(
            Progress(12.5, "head", epoch=3, losses={"cls": 0.4321, "box": 0.12}, val_map=0.654, message="go")
        )
    err = capsys.readouterr().err
    assert "[head] go" in err
    assert "head, epoch 3, cls 0.432, box 0.120, val mAP@0.5 0.654" in err
    assert "12%" in err or "13%" in err


def test_first_interrupt_requests_cancel_and_the_second_aborts():
    before = signal.getsignal(signal.SIGINT)
    with cli_terminal.CancelOnInterrupt() as cancel:
        assert not cancel()
        os.kill(os.getpid(), signal.SIGINT)
        assert cancel()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before  # the handler it replaced is back


def test_summary_names_every_figure(tmp_path):
    request = TrainRequest(data=tmp_path / "d.csv", out_dir=tmp_path / "out", budget_milli_node_hours=1000)
    result = TrainResult(
        package_dir=tmp_path / "out" / "package",
        model_dir=tmp_path / "out" / "model",
        model_type="mobile-low-latency-1",
        labels=["cat", "dog"],
        stop_reason=StopReason.MODEL_CONVERGED,
        train_cost_milli_node_hours=250,
        wall_seconds=905.4,
        evaluation={},
        map50=0.91234,
        map50_95=0.6012,
        latency_ms=12.34,
        size_bytes=4_200_000,
    )
    text = cli_terminal.summary(result, request, "TEST", bad_rows=3)
    for expected in [
        "MODEL_CONVERGED",
        "250 milli node hours (budget 1,000), wall time 15m 05s",
        "mAP@0.5       0.912  (TEST rows, exported int8 TF Lite)",
        "mAP@[.5:.95]  0.601",
        "latency       12.3 ms",
        "size          4.20 MB",
        f"package       {tmp_path / 'out' / 'package'}",
        "bad rows      3 skipped",
    ]:
        assert expected in text


def test_tf_js_export_is_refused_before_any_training(csv_path, tmp_path, capsys):
    code = run_cli(
        "--csv", str(csv_path), "--out", str(tmp_path / "out"), "--export-format", "tflite", "tf_js"
    )
    assert code == 2
    assert "--export-format tf_js is unavailable" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_edgetrain_command_dispatches_train_here(csv_path, tmp_path):
    argv = [
        "train",
        "--csv",
        str(csv_path),
        "--out",
        str(tmp_path / "out"),
        "--budget-milli-node-hours",
        "999",
    ]
    result = subprocess.run([sys.executable, "-m", "edgetrain.cli", *argv], capture_output=True, text=True)
    assert result.returncode == 2
    assert "edgetrain train: error: argument --budget-milli-node-hours: 999 is outside" in result.stderr
