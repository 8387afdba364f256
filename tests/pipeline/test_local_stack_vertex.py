"""`edgetrain local-stack run --backend vertex-ai` (what `make run ARGS="--backend vertex-ai"` runs): the
functions speak Vertex AI to the local `edgetrain serve`; the default backend stays AutoML v1."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from edgetrain.localstack import upstream
from edgetrain.localstack.errors import LocalStackError
from edgetrain.localstack.stack import LocalStack, StackConfig
from tests.e2e.runner import live_process_groups, run_dir_of, runner_command, tiny_dataset


def test_the_functions_get_the_backend_and_its_endpoint(tmp_path):
    automl = LocalStack(StackConfig(run_dir=tmp_path / "a")).function_env(1, 2, 3)
    vertex = LocalStack(StackConfig(run_dir=tmp_path / "v", backend="vertex-ai")).function_env(1, 2, 3)

    assert automl["TRAINING_BACKEND"] == "automl-v1" and automl["AUTOML_ENDPOINT"] == "127.0.0.1:3"
    assert vertex["TRAINING_BACKEND"] == "vertex-ai" and vertex["VERTEX_ENDPOINT"] == "127.0.0.1:3"
    with pytest.raises(LocalStackError, match="backend 'vertex'"):
        StackConfig(run_dir=tmp_path, backend="vertex")


def test_an_automl_csv_becomes_vertex_json_lines_with_its_images(tmp_path):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (data / "images" / name).write_bytes(b"jpeg " + name.encode())
    (data / "annotations.csv").write_text(
        "TRAIN,images/a.jpg,RBC,0.1,0.2,,,0.3,0.4,,\n"
        "TRAIN,images/a.jpg,WBC,0.5,0.5,,,0.9,0.8,,\n"
        "UNASSIGNED,images/b.jpg,RBC,0.0,0.0,,,1.0,1.0,,\n"
        "TEST,images/c.jpg,,,,,,,,,\n"
        "VALIDATION,images/missing.jpg,RBC,0.1,0.1,,,0.2,0.2,,\n"
    )

    uri = upstream.vertex_import_file(data / "annotations.csv", tmp_path / "storage", "gs://bucket/run1")

    assert uri == "gs://bucket/run1/import.jsonl"
    lines = [json.loads(x) for x in (tmp_path / "storage/bucket/run1/import.jsonl").read_text().splitlines()]
    assert [len(x["boundingBoxAnnotations"]) for x in lines] == [2, 1, 0, 1]
    assert lines[0]["boundingBoxAnnotations"][1] == {
        "displayName": "WBC",
        "xMin": 0.5,
        "yMin": 0.5,
        "xMax": 0.9,
        "yMax": 0.8,
    }
    uses = [x.get("dataItemResourceLabels", {}).get("aiplatform.googleapis.com/ml_use") for x in lines]
    assert uses == ["training", None, "test", "validation"]  # UNASSIGNED: Vertex splits it
    first = tmp_path / "storage" / lines[0]["imageGcsUri"].removeprefix("gs://")
    assert first.read_bytes() == b"jpeg a.jpg"
    assert not (
        tmp_path / "storage" / lines[3]["imageGcsUri"].removeprefix("gs://")
    ).exists()  # the import says


@pytest.mark.emulators
@pytest.mark.slow
def test_the_runner_trains_through_the_vertex_backend(tmp_path):
    data = tiny_dataset(tmp_path / "tiny")
    command = runner_command(data, tmp_path / "var", tmp_path / "overrides.json", "--backend", "vertex-ai")

    result = subprocess.run(command, capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stderr[-4000:]
    model = Path(result.stdout.strip().splitlines()[-1])
    assert model.name == "model.tflite" and model.stat().st_size > 0
    assert "(vertex-ai)" in result.stderr and "import.jsonl" in result.stderr
    assert "training SUCCEEDED" in result.stderr and "MODEL_EXPORTED" in result.stderr
    run_dir = run_dir_of(tmp_path / "var")
    calls = (run_dir / "service" / "service.log").read_text()  # one line per RPC the service answered
    for rpc in (
        "DatasetService/ImportData",
        "PipelineService/CreateTrainingPipeline",
        "ModelService/ExportModel",
    ):
        assert f"google.cloud.aiplatform.v1.{rpc} OK" in calls, rpc
    assert "google.cloud.automl.v1" not in calls  # nothing went through AutoML v1
    assert all(not pids for pids in live_process_groups(run_dir).values())
