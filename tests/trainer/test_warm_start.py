"""Warm start (TrainRequest.init_from, issue 29 item 3): a training that begins from an earlier model.

One champion is trained on the card images (head only, 128 px, ~40 s on 2 cores). The next data renames
"ten" to "joker": a label the champion never saw (it sorts between two known ones, so class ids shift) and
one the new data lacks. A cold start and a warm start from the champion then train on it, same seed.
Which images validate a warm start: those the champion never trained on, else its score is no bar.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgetrain_trainer import cli
from edgetrain_trainer.data.image_ids import image_id
from edgetrain_trainer.errors import InvalidArgumentError, TrainingCancelled
from edgetrain_trainer.export.package import load_model_dir
from edgetrain_trainer.model.backbones import build_backbone
from edgetrain_trainer.model.catalog import spec_for
from edgetrain_trainer.model.detector import PRIOR_PROBABILITY, backbone_feature_shapes, build_head
from edgetrain_trainer.train import train
from edgetrain_trainer.training.warm_start import (
    CLASS_PREDICTOR,
    find_warm_start,
    load_warm_start,
    why_no_bar,
)
from edgetrain_trainer.types import TrainRequest

pytestmark = pytest.mark.slow

CARDS = Path(__file__).parent / "data" / "cards_small" / "annotations.csv"
MODEL_TYPE = "mobile-low-latency-1"
SIZE = 128
SMALL = {
    "input_size": SIZE,
    "cache_views": 2,
    "calibration_images": 4,
    "max_eval_images": 6,
    "finetune": False,
    "cooldown_epochs": 0,
    "patience": 100,
}
CHAMPION = {**SMALL, "head_max_epochs": 25}
ONE_EPOCH = {**SMALL, "max_epochs": 1}


def renamed(old: str, new: str, dest: Path) -> Path:
    """cards_small with label `old` renamed `new` (absolute image paths), as a CSV in dest."""
    rows = list(csv.reader(open(CARDS)))
    for row in rows:
        row[1] = str(CARDS.parent / row[1])
        row[2] = new if row[2] == old else row[2]
    path = dest / f"{old}_as_{new}.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def ids_by_split() -> dict[str, list[str]]:
    """cards_small's image ids per split, in file order."""
    ids: dict[str, list[str]] = {}
    for split, ref, *_ in csv.reader(open(CARDS)):
        found = image_id(CARDS.parent / ref)
        if found not in ids.setdefault(split, []):
            ids[split].append(found)
    return ids


def first_validation(reports) -> float:
    return next(r.val_map for r in reports if r.epoch == 1 and r.val_map is not None)


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warm")
    request = TrainRequest(
        data=CARDS,
        out_dir=folder / "champion",
        model_type=MODEL_TYPE,
        budget_milli_node_hours=1000,
        overrides=CHAMPION,
    )
    return train(request)


@pytest.fixture(scope="module")
def cold_and_warm(champion, tmp_path_factory):
    """(cold reports, warm reports, warm result) on the renamed data, same seed: the cold start is cancelled
    once its first epoch is validated; the warm one fine-tunes one epoch and is exported."""
    folder = tmp_path_factory.mktemp("warm_vs_cold")
    data = renamed("ten", "joker", folder)

    def request(name: str, **changes) -> TrainRequest:
        return TrainRequest(
            data=data, out_dir=folder / name, model_type=MODEL_TYPE, budget_milli_node_hours=1000, **changes
        )

    cold: list = []
    with pytest.raises(TrainingCancelled):
        train(
            request("cold", overrides=ONE_EPOCH),
            progress=cold.append,
            cancel=lambda: any(r.epoch == 1 and r.val_map is not None for r in cold),
        )
    warm: list = []
    # fine-tuning follows: the warm start skips the head stage and fine-tunes from the champion
    result = train(
        request("warm", overrides={**ONE_EPOCH, "finetune": True}, init_from=champion.package_dir.parent),
        progress=warm.append,
    )
    return cold, warm, result


def test_a_warm_start_begins_where_the_champion_ended(champion, cold_and_warm):
    cold, warm, result = cold_and_warm
    assert champion.labels == ["ace", "jack", "king", "nine", "queen", "ten"]
    assert result.labels == ["ace", "jack", "joker", "king", "nine", "queen"]
    cold_first, warm_first = first_validation(cold), first_validation(warm)
    assert cold_first < 0.1, cold_first  # a fresh head after one epoch finds next to nothing
    # the champion (kept for its validation mAP@[.5:.95]) starts the warm run about 0.25 above the cold one
    assert warm_first > cold_first + 0.2, (cold_first, warm_first)
    messages = [r.message for r in warm]
    expected = "5 of 6 labels known, new: joker, dropped: ten"
    assert any("warm start from" in m and expected in m for m in messages), messages
    start = next(r.val_map for r in warm if "the warm-start weights" in r.message)
    assert start > 0.25  # the champion's weights as loaded, before any step: they know five of six labels
    # fine-tuning follows, so there is no head stage (no feature cache, no head epochs) in a warm start
    assert {r.phase for r in warm if r.epoch} == {"finetune"}
    assert not any(r.phase == "features" for r in warm)
    assert {r.phase for r in cold if r.epoch} == {"head"}


def test_the_class_head_grows_and_shrinks_with_the_labels(champion):
    """Shared labels keep the champion's class rows; a new label keeps the fresh head's (prior bias); a
    label the new dataset lacks is dropped. Every other weight is the champion's."""
    spec = spec_for(MODEL_TYPE)
    source = find_warm_start(champion.model_dir, MODEL_TYPE)
    labels = ["jack", "joker", "king", "nine", "queen"]  # "ace" and "ten" removed, "joker" added
    backbone = build_backbone(spec.backbone, SIZE, weights=False)
    head = build_head(backbone_feature_shapes(backbone), spec, len(labels))
    fresh_depthwise, fresh_pointwise, fresh_bias = head.get_layer(CLASS_PREDICTOR).get_weights()
    note = load_warm_start(source, backbone, head, labels)
    assert note.endswith("4 of 5 labels known, new: joker, dropped: ace, ten")

    old = load_model_dir(champion.model_dir)
    old_head = old.detector.get_layer("detection_head")
    old_depthwise, old_pointwise, old_bias = old_head.get_layer(CLASS_PREDICTOR).get_weights()
    depthwise, pointwise, bias = head.get_layer(CLASS_PREDICTOR).get_weights()
    k_old, k_new = len(old.labels), len(labels)
    anchors = pointwise.shape[-1] // k_new
    assert pointwise.shape[-1] == anchors * k_new and old_pointwise.shape[-1] == anchors * k_old
    np.testing.assert_array_equal(depthwise, old_depthwise)
    for k, label in enumerate(labels):
        new_cols = np.arange(anchors) * k_new + k
        if label == "joker":
            np.testing.assert_array_equal(pointwise[..., new_cols], fresh_pointwise[..., new_cols])
            np.testing.assert_allclose(bias[new_cols], np.log(PRIOR_PROBABILITY / (1 - PRIOR_PROBABILITY)))
        else:
            old_cols = np.arange(anchors) * k_old + old.labels.index(label)
            np.testing.assert_array_equal(pointwise[..., new_cols], old_pointwise[..., old_cols])
            np.testing.assert_array_equal(bias[new_cols], old_bias[old_cols])
    assert not np.array_equal(fresh_pointwise, pointwise)
    old_backbone = [layer for layer in old.detector.layers if layer.name not in ("image", "detection_head")]
    for new, before in zip(backbone.get_weights(), old_backbone[0].get_weights(), strict=True):
        np.testing.assert_array_equal(new, before)
    box = head.get_layer("box_net_predict").get_weights()
    for new, before in zip(box, old_head.get_layer("box_net_predict").get_weights(), strict=True):
        np.testing.assert_array_equal(new, before)


def test_init_from_must_hold_a_model_of_the_same_type(champion, tmp_path):
    with pytest.raises(InvalidArgumentError, match="is a mobile-low-latency-1 model; a mobile-versatile-1"):
        find_warm_start(champion.model_dir, "mobile-versatile-1")
    with pytest.raises(InvalidArgumentError, match="holds no trained model"):
        find_warm_start(tmp_path, MODEL_TYPE)
    request = TrainRequest(
        data=CARDS,
        out_dir=tmp_path / "out",
        model_type="mobile-versatile-1",
        overrides=ONE_EPOCH,
        init_from=champion.model_dir,
    )
    with pytest.raises(InvalidArgumentError, match="init_from: "):
        train(request)
    assert not (tmp_path / "out").exists()


def test_the_cli_refuses_an_init_from_of_another_type(champion, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="edgetrain train")
    cli.add_arguments(parser)
    args = ["--csv", str(CARDS), "--out", str(tmp_path / "out"), "--init-from", str(champion.model_dir)]
    code = cli.run(parser.parse_args([*args, "--model-type", "mobile-high-accuracy-1"]))
    assert code == 2
    err = capsys.readouterr().err
    assert "error: --init-from: " in err and "a mobile-high-accuracy-1 training can only start from" in err, (
        err
    )
    assert not (tmp_path / "out").exists()


def test_the_warm_start_validates_on_images_the_champion_never_trained_on(champion, cold_and_warm):
    _, warm_reports, warm = cold_and_warm
    ids = ids_by_split()
    trained = find_warm_start(champion.model_dir, MODEL_TYPE).trained_images
    assert trained is not None and len(trained) == 28 and trained <= set(ids["TRAIN"])  # 8 held out
    assert champion.validation_images and not trained & set(champion.validation_images)
    assert len(warm.validation_images) == 6 and not trained & set(warm.validation_images)
    assert not any("no bar" in r.message for r in warm_reports)
    warm_trained = find_warm_start(warm.model_dir, MODEL_TYPE).trained_images
    assert trained <= warm_trained and not warm_trained & set(warm.validation_images)
    assert [image.image_id for image in warm.evaluated_images] == ids["TEST"][:6]  # max_eval_images
    assert [image.image_ref for image in warm.evaluated_images][0].startswith(str(CARDS.parent))


def test_validation_images_the_champion_trained_on_are_no_bar(champion, tmp_path):
    """Only the images the champion trained on, and TEST: every validation image is one it knows, so the
    score of its weights as loaded is inflated and the training need not beat it."""
    trained = find_warm_start(champion.model_dir, MODEL_TYPE).trained_images
    rows = []
    for row in csv.reader(open(CARDS)):
        row[1] = str(CARDS.parent / row[1])
        if row[0] == "TEST" or image_id(row[1]) in trained:
            rows.append(row)
    data = tmp_path / "known.csv"
    with open(data, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    reports: list = []
    request = TrainRequest(
        data=data,
        out_dir=tmp_path / "out",
        model_type=MODEL_TYPE,
        budget_milli_node_hours=1000,
        seed=1,
        overrides={**ONE_EPOCH, "finetune": True},
        init_from=champion.model_dir,
    )
    with pytest.raises(TrainingCancelled):  # stopped once the bar is decided
        train(request, progress=reports.append, cancel=lambda: any("no bar" in r.message for r in reports))
    messages = [r.message for r in reports]
    start = "the warm-start weights: validation mAP@0.5 "
    assert any(start in m and "mAP@[.5:.95]" in m for m in messages), messages
    expected = "the warm-start score is no bar to beat: it was trained on 6 of the 6 validation images"
    assert expected in messages, messages


def test_a_model_that_does_not_say_what_it_trained_on_sets_no_bar(champion, tmp_path):
    legacy = tmp_path / "legacy"
    shutil.copytree(champion.model_dir, legacy)
    info = json.loads((legacy / "trainer.json").read_text())
    del info["trained_images"]  # models trained before the record
    (legacy / "trainer.json").write_text(json.dumps(info))
    source = find_warm_start(legacy, MODEL_TYPE)
    assert source.trained_images is None
    assert why_no_bar(source, 0, 6) == f"{legacy} does not say which images it was trained on"
    assert why_no_bar(find_warm_start(champion.model_dir, MODEL_TYPE), 0, 6) == ""
