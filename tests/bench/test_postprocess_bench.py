"""benchmarks.studies.postprocess_bench: one trained model exported with several post-processing settings,
each export evaluated on TEST and timed; its variants checked, its report."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.studies.postprocess_bench import ROUNDS, compare_variants, parse_variant, render_markdown
from tests.trained import CARDS_SMALL


@pytest.fixture(scope="module")
def trained(cards_training, tmp_path_factory):
    """The session's cards training (tests/trained.py): its model directory, and a data root holding
    cards_small as `cards`."""
    root = tmp_path_factory.mktemp("postprocess")
    (root / "data").mkdir()
    (root / "data" / "cards").symlink_to(CARDS_SMALL.resolve())
    return cards_training.result.model_dir, root / "data"


@pytest.mark.slow
def test_each_variant_is_exported_from_the_same_weights_and_measured(trained):
    model_dir, data_root = trained
    variant = {"use_regular_nms": True, "max_detections": 5, "nms_iou_threshold": 0.7}
    own, regular = compare_variants(model_dir, "cards", data_root, [variant])["entries"]

    assert own["variant"] == {} and own["settings"]["nms_iou_threshold"] == 0.5
    assert not own["settings"]["use_regular_nms"] and own["settings"]["max_detections"] == 100
    assert regular["variant"] == variant and regular["settings"] == {**own["settings"], **variant}
    # regular NMS outputs one entry per (box, class) and counts entries: at most max_detections of them
    # (fast NMS fills two entries, its top two classes, per kept box)
    assert regular["entries_per_image"] <= 5
    for entry in (own, regular):
        assert 0.0 <= entry["map50_95"] <= entry["map50"] <= 1.0
        assert len(entry["rounds_ms"]) == ROUNDS and entry["median_ms"] > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nms_iou_threshold: 0.6}", "is not JSON"),
        ('{"iou": 0.6}', "must be a JSON object of PostProcessConfig fields"),
        ("[0.6]", "must be a JSON object of PostProcessConfig fields"),
        ("{}", "must be a JSON object of PostProcessConfig fields"),
    ],
)
def test_a_variant_must_name_post_processing_fields(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_variant(text)
    assert parse_variant('{"use_regular_nms": true}') == {"use_regular_nms": True}


def test_report_lists_each_comparison_newest_first_the_model_s_own_settings_first():
    def entry(variant: dict, map50_95: float, median: float) -> dict:
        settings = {
            "max_detections": 100,
            "max_classes_per_detection": 2,
            "detections_per_class": 100,
            "nms_score_threshold": 0.05,
            "nms_iou_threshold": 0.5,
            "use_regular_nms": False,
            **variant,
        }
        return {
            "variant": variant,
            "settings": settings,
            "map50": 0.92,
            "map50_95": map50_95,
            "median_ms": median,
            "rounds_ms": [median - 1, median, median + 2],
            "entries_per_image": 190,
        }

    def record(started: str, dataset: str, entries: list[dict]) -> dict:
        return {
            "started": started,
            "machine": {"cpu_model": "AMD EPYC", "load_average_1m": 1.0},
            "machine_after": {"cpu_model": "AMD EPYC", "load_average_1m": 3.04},
            "git": {"commit": "abcdef0123"},
            "dataset": dataset,
            "model_type": "mobile-low-latency-1",
            "model_dir": "/x/out/model",
            "protocol": {"threads": 2, "images": 8, "rounds": 5, "runs": 40},
            "entries": entries,
        }

    older = record("2026-12-06T03:40:00+00:00", "raccoon", [entry({}, 0.579, 6.0)])
    newer = record(
        "2026-12-06T03:43:00+00:00",
        "bccd",
        [entry({}, 0.5847, 7.0), entry({"nms_iou_threshold": 0.7, "max_detections": 200}, 0.5877, 7.5)],
    )
    text = render_markdown([older, newer])
    rows = [line.split(" | ")[1:10] for line in text.splitlines() if line.startswith("| 2026")]
    own = "own: fast NMS, IoU 0.5, 100 detections, score ≥ 0.05"
    assert rows == [
        [
            "AMD EPYC",
            "1.0 → 3.0",
            "bccd",
            "mobile-low-latency-1",
            own,
            "0.9200",
            "0.5847",
            "7.0 ms",
            "6.0–9.0",
        ],
        [
            "AMD EPYC",
            "1.0 → 3.0",
            "bccd",
            "mobile-low-latency-1",
            "nms_iou_threshold 0.7, max_detections 200",
            "0.9200",
            "0.5877",
            "7.5 ms",
            "6.5–9.5",
        ],
        [
            "AMD EPYC",
            "1.0 → 3.0",
            "raccoon",
            "mobile-low-latency-1",
            own,
            "0.9200",
            "0.5790",
            "6.0 ms",
            "5.0–8.0",
        ],
    ]
