"""`edgetrain local-stack run` end to end: real emulators, real service and trainer, every function under
functions-framework, events delivered only through push subscriptions; a tiny dataset and tiny trainer
settings keep it to a few minutes."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.e2e.runner import (
    live_process_groups,
    processes_mentioning,
    run_dir_of,
    runner_command,
    tiny_dataset,
)

pytestmark = [pytest.mark.emulators, pytest.mark.slow]


def _labels_beside_the_images(data: Path) -> Path:
    """The CSV moved to a sibling of the images' folder (a common layout): its rows name `../images/...`."""
    moved = data.parent / "labels" / data.name
    moved.parent.mkdir()
    moved.write_text(data.read_text().replace(",images/", ",../images/"))
    data.unlink()
    return moved


def test_the_runner_trains_through_the_pipeline_and_prints_the_model_path_last(tmp_path):
    data = _labels_beside_the_images(tiny_dataset(tmp_path / "tiny"))
    command = runner_command(data, tmp_path / "var", tmp_path / "overrides.json")

    result = subprocess.run(command, capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stderr[-4000:]
    model = Path(result.stdout.strip().splitlines()[-1])
    assert model.is_absolute() and model.name == "model.tflite" and model.is_file()
    assert "MODEL_EXPORTED" in result.stderr
    assert re.search(r"evaluation mAP@0\.5 [01]\.\d{3} boundingBoxMeanAveragePrecision", result.stderr)
    _assert_runs_in_litert(model)
    run_dir = run_dir_of(tmp_path / "var")
    assert all(not pids for pids in live_process_groups(run_dir).values())
    # the stack is down; the evaluation view stays, as one file with its pictures inside
    view = run_dir / "evaluation.html"
    assert f"evaluation view, saved as one file: {view}" in result.stderr
    html = view.read_text()
    assert "mobile-low-latency-1" in html and 'id="samples"' in html and "../sample/" not in html
    assert html.count('src="data:image/jpeg;base64,') >= 1


def _assert_runs_in_litert(model: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model), num_threads=1)
    interpreter.allocate_tensors()
    [image] = interpreter.get_input_details()
    assert image["dtype"] == np.uint8 and image["shape"][0] == 1 and image["shape"][3] == 3
    interpreter.set_tensor(image["index"], np.zeros(image["shape"], np.uint8))
    interpreter.invoke()
    assert len(interpreter.get_output_details()) == 4  # boxes, classes, scores, count


@pytest.mark.parametrize(
    ("after_line", "sigint"),
    [("starting edgetrain serve", signal.SIG_DFL), ("published the import request", signal.SIG_IGN)],
    ids=["during-start-up", "mid-run-started-with-SIGINT-ignored"],
)
def test_ctrl_c_stops_every_process_the_runner_started(tmp_path, after_line, sigint):
    """The runner installs its own SIGINT handler, so Ctrl-C works also when it inherits SIGINT ignored (a
    background job of a script). The runner is started with the disposition set here, around Popen: a
    preexec_fn would run Python in a fork of this multi-threaded worker before exec, which the subprocess
    docs call unsafe, and a runner started that way once ended with SIGABRT in CI before it published."""
    data = tiny_dataset(tmp_path / "tiny")
    command = runner_command(data, tmp_path / "var", tmp_path / "overrides.json")
    previous = signal.signal(signal.SIGINT, sigint)
    try:
        runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    seen: list[str] = []
    try:
        for line in runner.stderr:
            seen.append(line)
            if after_line in line:
                break
        else:
            said = "".join(seen)[-4000:]
            pytest.fail(f"the runner ended before printing {after_line!r} (code {runner.wait()}):\n{said}")
        runner.send_signal(signal.SIGINT)
        stdout, stderr = runner.communicate(timeout=180)
    finally:
        if runner.poll() is None:
            runner.kill()

    assert runner.returncode == 130, stderr[-4000:]
    assert stdout == ""  # no model path when interrupted
    run_dir = run_dir_of(tmp_path / "var")
    groups = live_process_groups(run_dir)
    assert set(groups) >= {"pubsub-emulator", "firestore-emulator", "function status_page"}
    assert all(not pids for pids in groups.values()), groups
    assert processes_mentioning(run_dir) == []


def test_bad_data_is_refused_before_anything_starts(tmp_path):
    bad = tmp_path / "labels.txt"
    bad.write_text("TRAIN,x.jpg,RBC,0,0,,,1,1,,\n")
    command = runner_command(bad, tmp_path / "var", tmp_path / "overrides.json")

    result = subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert result.returncode == 2
    assert "must be an AutoML import CSV" in result.stderr
    assert not (tmp_path / "var").exists()


def test_an_import_that_fails_ends_the_run_with_the_reason(tmp_path):
    """The image passes the checks made before the stack starts (the trainer's), but the stack's service
    refuses images over 40 million pixels, so the pipeline's import rejects the row: the run ends with the
    row's reason."""
    data = tmp_path / "data" / "annotations.csv"
    huge = data.parent / "cells.jpg"
    huge.parent.mkdir()
    Image.new("RGB", (8000, 6000), (150, 40, 40)).save(huge)
    data.write_text("TRAIN,cells.jpg,RBC,0.1,0.1,,,0.5,0.5,,\n")
    command = runner_command(data, tmp_path / "var", tmp_path / "overrides.json")

    result = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert result.returncode == 1, result.stderr[-4000:]
    assert "the import failed" in result.stderr
    assert "line 1: cannot fetch image cells.jpg (image is 8000 x 6000 pixels; the limit is" in result.stderr
    assert result.stdout == ""
    assert all(not pids for pids in live_process_groups(run_dir_of(tmp_path / "var")).values())


def test_a_request_the_pipeline_refuses_ends_the_run_with_the_reason(tmp_path):
    """The data's folder name holds a control character, which the trainer's checks allow but the pipeline's
    import request refuses: the run ends with that reason instead of waiting out its timeout."""
    data = tiny_dataset(tmp_path / "odd\x01name")
    command = runner_command(data, tmp_path / "var", tmp_path / "overrides.json")

    result = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert result.returncode == 1, result.stderr[-4000:]
    assert "import_dataset refused the request: ImportRequest: inputUris" in result.stderr
    assert "holds a control character" in result.stderr
    assert all(not pids for pids in live_process_groups(run_dir_of(tmp_path / "var")).values())
