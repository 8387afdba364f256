"""edgetrain-compare-to through the real service and the official clients (issue 29 item 1): the named model's
exported TF Lite is evaluated on exactly the new training's TEST images, and both evaluations are readable
with ListModelEvaluations on both API surfaces.

The champion trains on the cards subset without its `ten` boxes, so the challenger has a label the champion
never saw. Three tiny trainings (~2 min each on 2 shared cores; the second and third run at once, the third
through the Vertex surface). The images compared are the ones the challenger's training reports
(TrainResult.evaluated_images); the last tests check that look-up on its own, without a training.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import logging
import sys
from pathlib import Path

import pytest
from google.cloud import automl_v1

from edgetrain_service import comparison
from edgetrain_trainer.types import EvaluatedImage, StopReason, TrainRequest, TrainResult
from tests.service.conftest import (
    BUCKET,
    PARENT,
    create_imported_dataset,
    finished,
    grpc_clients,
    write_cards_subset,
)
from tests.vertex.conftest import State, pipeline_request, wait_for_state
from tests.vertex.conftest import grpc_clients as vertex_clients
from tests.vertex.conftest import rest_clients as vertex_rest

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
UNSEEN = "ten"  # the label the champion never saw
COMPARED = "compared-to:"


def _train(client, dataset, display_name: str, labels: dict[str, str]) -> str:
    operation = client.create_model(
        parent=PARENT,
        model={
            "display_name": display_name,
            "dataset_id": dataset.name.rsplit("/", 1)[1],
            "labels": labels,
            "image_object_detection_model_metadata": {
                "model_type": "mobile-low-latency-1",
                "train_budget_milli_node_hours": 1000,
            },
        },
    )
    return operation.operation.name


def _model(client, op_name: str) -> automl_v1.Model:
    op = finished(client, op_name)
    assert not op.HasField("error"), op.error
    return automl_v1.Model.deserialize(op.response.value)


def _digest(ids: list[str]) -> str:
    """The edgetrain-test-images value for these image ids: sha256 over the sorted ids, base32."""
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


def _digest_of_test_images(storage_root: Path, uri: str) -> tuple[str, int]:
    """What the service should report: sha256 over the sorted sha256s of the TEST images' bytes."""
    rows = csv.reader(open(storage_root / uri[len("gs://") :]))
    paths = {row[1] for row in rows if row[0] == "TEST"}
    ids = [hashlib.sha256((storage_root / p[len("gs://") :]).read_bytes()).hexdigest() for p in paths]
    return _digest(ids), len(ids)


@pytest.fixture(scope="module")
def compared(service):
    client = grpc_clients(service.grpc_target)[0]
    champion_uri = write_cards_subset(service.storage_root, "cmp_champion")
    champion_csv = service.storage_root / champion_uri[len("gs://") :]
    kept = [row for row in csv.reader(open(champion_csv)) if row[2] != UNSEEN]
    with open(champion_csv, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)
    challenger_uri = write_cards_subset(service.storage_root, "cmp_challenger")
    champion_data = create_imported_dataset(client, "cmp_champion", champion_uri)
    challenger_data = create_imported_dataset(client, "cmp_challenger", challenger_uri)

    champion = _model(client, _train(client, champion_data, "cmp_champion", {}))
    champion_id = champion.name.rsplit("/", 1)[1]
    challenger_op = _train(
        client, challenger_data, "cmp_challenger", {"edgetrain-compare-to": champion_id.lower()}
    )
    # on the Vertex surface the label goes on the TrainingPipeline (here: there only)
    request = pipeline_request(challenger_data, "cmp_orphan", "MOBILE_TF_LOW_LATENCY_1")
    request["labels"]["edgetrain-compare-to"] = "iod1000000000000000001"
    vertex = vertex_clients(service.grpc_target)
    orphan_pipeline = vertex.pipelines.create_training_pipeline(parent=PARENT, training_pipeline=request)
    return {
        "client": client,
        "champion": champion,
        "challenger": _model(client, challenger_op),
        "orphan": client.get_model(
            name=wait_for_state(
                vertex, orphan_pipeline.name, {State.PIPELINE_STATE_SUCCEEDED}
            ).model_to_upload.name
        ),
        "test_images": _digest_of_test_images(service.storage_root, challenger_uri),
    }


def _evaluations(client, model: automl_v1.Model) -> list[automl_v1.ModelEvaluation]:
    return list(client.list_model_evaluations(parent=model.name, filter=""))


def test_the_compared_model_is_evaluated_on_the_same_test_images(compared):
    client, champion, challenger = compared["client"], compared["champion"], compared["challenger"]
    champion_id = champion.name.rsplit("/", 1)[1]
    digest, count = compared["test_images"]
    assert challenger.labels["edgetrain-test-images"] == digest
    assert challenger.labels["edgetrain-compared-test-images"] == digest
    assert int(challenger.labels["edgetrain-latency-us"]) > 0
    assert int(challenger.labels["edgetrain-compared-latency-us"]) > 0
    got = client.get_model(name=challenger.name)  # the labels stay on the model, as GetModel shows it
    assert got.labels["edgetrain-compared-test-images"] == digest

    evaluations = _evaluations(client, challenger)
    own = [e for e in evaluations if not e.display_name.startswith(COMPARED)]
    theirs = [e for e in evaluations if e.display_name.startswith(COMPARED)]
    own_overall = next(e for e in own if not e.annotation_spec_id)
    their_overall = next(e for e in theirs if not e.annotation_spec_id)
    assert their_overall.display_name == f"{COMPARED}{champion_id}"
    assert own_overall.evaluated_example_count == their_overall.evaluated_example_count == count
    metrics = their_overall.image_object_detection_evaluation_metrics
    assert metrics.evaluated_bounding_box_count == (
        own_overall.image_object_detection_evaluation_metrics.evaluated_bounding_box_count
    )
    own_labels = {e.display_name: e.annotation_spec_id for e in own if e.annotation_spec_id}
    their_labels = {
        e.display_name.split(":", 2)[2]: e.annotation_spec_id for e in theirs if e.annotation_spec_id
    }
    assert UNSEEN in own_labels
    assert set(their_labels) == set(own_labels) - {UNSEEN}  # a label the champion never saw has no AP
    assert all(their_labels[label] == own_labels[label] for label in their_labels)  # same annotation specs


def test_the_vertex_surface_lists_both_evaluations(service, compared):
    champion_id = compared["champion"].name.rsplit("/", 1)[1]
    own_labels = {
        e.display_name
        for e in _evaluations(compared["client"], compared["challenger"])
        if e.annotation_spec_id and not e.display_name.startswith(COMPARED)
    }
    for models in (vertex_clients(service.grpc_target).models, vertex_rest(service.vertex_rest_url).models):
        listed = list(models.list_model_evaluations(parent=compared["challenger"].name))
        assert sorted(e.display_name for e in listed) == ["", f"{COMPARED}{champion_id}"]
        slices = {
            e.display_name: {s.slice_.value for s in models.list_model_evaluation_slices(parent=e.name)}
            for e in listed
        }
        assert slices == {"": own_labels, f"{COMPARED}{champion_id}": own_labels - {UNSEEN}}
        model = models.get_model(name=compared["challenger"].name)
        assert model.labels["edgetrain-compared-test-images"] == compared["test_images"][0]


def test_a_missing_compared_model_leaves_the_comparison_out(service, compared):
    orphan = compared["orphan"]
    missing = f"{PARENT}/models/IOD1000000000000000001"
    assert f"no comparison: model {missing} does not exist" in service.log_path.read_text(errors="replace")
    assert orphan.labels["edgetrain-test-images"] == compared["test_images"][0]
    assert "edgetrain-compared-test-images" not in orphan.labels
    assert "edgetrain-compared-latency-us" not in orphan.labels
    evaluations = _evaluations(compared["client"], orphan)
    assert evaluations and not [e for e in evaluations if e.display_name.startswith(COMPARED)]


@pytest.fixture
def pipeline_settings(service, monkeypatch):
    """Settings for the pipeline's gateways: `settings(backend)` with this service as either backend."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
    from edgetrain_pipeline.config import get_env

    def settings(backend: str):
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PARENT.split("/")[1])
        monkeypatch.setenv("AUTOML_LOCATION", PARENT.split("/")[3])
        monkeypatch.setenv("TRAINING_BACKEND", backend)
        monkeypatch.setenv("AUTOML_ENDPOINT", service.grpc_target)
        monkeypatch.setenv("VERTEX_ENDPOINT", service.grpc_target)
        get_env.cache_clear()
        return get_env()

    yield settings
    get_env.cache_clear()


def test_the_pipeline_reads_both_evaluations_through_either_surface(compared, pipeline_settings):
    from edgetrain_pipeline.automl_gateway import AutoMlGateway
    from edgetrain_pipeline.promotion import Rule, decide
    from edgetrain_pipeline.vertex_gateway import VertexGateway

    name, digest = compared["challenger"].name, compared["test_images"][0]
    champion_id = compared["champion"].name.rsplit("/", 1)[1]
    automl = AutoMlGateway(pipeline_settings("automl-v1")).model_evaluations(name)
    vertex = VertexGateway(pipeline_settings("vertex-ai")).model_evaluations(name)
    for got in (automl, vertex):
        assert got.champion_model == champion_id
        assert got.evaluation["testImagesDigest"] == got.champion["testImagesDigest"] == digest
        ours = {e["label"]: e["ap50"] for e in got.evaluation["perLabel"]}
        theirs = {e["label"]: e["ap50"] for e in got.champion["perLabel"]}
        assert UNSEEN in ours and set(theirs) == set(ours) - {UNSEEN}
        assert got.latency_ms > 0 and got.champion_latency_ms > 0
        decision = decide(
            Rule("meanAveragePrecisionAt50", 0.0, 0.02, 2.0), got.evaluation, got.champion, 1.0, 1.0
        )
        unseen = next(row for row in decision.labels if row["label"] == UNSEEN)
        assert unseen["championAp50"] is None and unseen["drop"] is None
    assert all(e["annotationSpecId"] for e in automl.evaluation["perLabel"] + automl.champion["perLabel"])
    assert [e["ap50"] for e in automl.champion["perLabel"]] == [
        e["ap50"] for e in vertex.champion["perLabel"]
    ]
    assert automl.evaluation["imageCount"] == compared["test_images"][1]


def _local_subset(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """A cards subset as a training's data snapshot (local paths) and its rows."""
    uri = write_cards_subset(tmp_path, "snapshot")
    rows = []
    for row in csv.reader(open(tmp_path / uri[len("gs://") :])):
        rows.append([row[0], str(tmp_path / BUCKET / row[1][len(f"gs://{BUCKET}/") :]), *row[2:]])
    data = tmp_path / "data.csv"
    with open(data, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return data, rows


def _reporting(tmp_path: Path, images: list[EvaluatedImage]) -> TrainResult:
    """A TrainResult whose evaluation used `images` (nothing else of it is read here)."""
    return TrainResult(
        package_dir=tmp_path / "package",
        model_dir=tmp_path / "model",
        model_type="mobile-low-latency-1",
        labels=["ace", "jack", "king", "nine", "queen", "ten"],
        stop_reason=StopReason.MODEL_CONVERGED,
        train_cost_milli_node_hours=1,
        wall_seconds=1.0,
        evaluation={},
        map50=0.0,
        map50_95=0.0,
        latency_ms=1.0,
        size_bytes=1,
        evaluated_images=images,
    )


def test_the_comparison_uses_the_images_the_training_reported(tmp_path):
    """Two of the four TEST images, in the order the training reports them: exactly those are compared,
    and the digest label is theirs (not the snapshot's TEST rows')."""
    data, rows = _local_subset(tmp_path)
    refs = list(dict.fromkeys(row[1] for row in rows if row[0] == "TEST"))
    assert len(refs) == 4
    chosen = [refs[2], refs[0]]
    ids = [hashlib.sha256(Path(ref).read_bytes()).hexdigest() for ref in chosen]
    result = _reporting(tmp_path, [EvaluatedImage(i, ref) for i, ref in zip(ids, chosen, strict=True)])
    request = TrainRequest(data=data, out_dir=tmp_path / "out")
    images = comparison.evaluated_images(request, result)
    assert images is not None
    assert [str(example.image_path) for example in images.examples] == chosen
    assert [len(example.boxes) for example in images.examples] == [
        sum(1 for row in rows if row[1] == ref and row[2]) for ref in chosen
    ]
    assert images.digest == _digest(ids)
    assert comparison.model_labels(result, None)["edgetrain-test-images"] == _digest(ids)


def test_an_image_that_is_not_the_one_reported_leaves_the_comparison_out(tmp_path, caplog):
    data, rows = _local_subset(tmp_path)
    ref = next(row[1] for row in rows if row[0] == "TEST")
    request = TrainRequest(data=data, out_dir=tmp_path / "out")
    with caplog.at_level(logging.WARNING, logger="edgetrain.service.comparison"):
        other = _reporting(tmp_path, [EvaluatedImage("0" * 64, ref)])
        assert comparison.evaluated_images(request, other) is None
        missing = _reporting(tmp_path, [EvaluatedImage("0" * 64, str(tmp_path / "gone.jpg"))])
        assert comparison.evaluated_images(request, missing) is None
    assert f"no comparison: the evaluated image {ref} (id {'0' * 64}) is another picture in" in caplog.text
    assert "gone.jpg (id " in caplog.text and "is not in the data snapshot" in caplog.text
