"""The retraining benchmark's pure parts: the rounds BCCD arrives in, the figures, the target, the table."""

import csv
from pathlib import Path

import pytest

from benchmarks.retrain_bench import render_markdown
from benchmarks.retrain_rounds import map_at, split_rounds, subsample, target, write_csv

BCCD = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "bccd" / "annotations.csv"


def rows_of(train: int, validation: int = 3, test: int = 2, boxes: int = 2) -> list[list[str]]:
    """AutoML CSV rows: `boxes` rows per image, images named by split."""
    rows = []
    for use, count in (("TRAIN", train), ("VALIDATION", validation), ("TEST", test)):
        for i in range(count):
            for b in range(boxes):
                rows.append(
                    [use, f"images/{use}_{i}.jpg", "RBC", f"0.{b}1", "0.1", "", "", "0.5", "0.5", "", ""]
                )
    return rows


def images(rows: list[list[str]], use: str) -> set[str]:
    return {row[1] for row in rows if row[0] == use}


def test_round_one_brings_every_validation_and_test_row_and_later_rounds_only_train():
    rows = rows_of(train=10)
    first, second, third = split_rounds(rows)

    assert [r for r in rows if r[0] != "TRAIN"] == [r for r in first if r[0] != "TRAIN"]
    assert all(r[0] == "TRAIN" for r in second + third)
    # 40 / 70 / 100 % of the 10 TRAIN images: 4, then 3, then 3, every image with both its rows
    assert [len(images(r, "TRAIN")) for r in (first, second, third)] == [4, 3, 3]
    assert all(
        len(r) == 2 * len(images(r, "TRAIN")) + (10 if r is first else 0) for r in (first, second, third)
    )


def test_rounds_are_disjoint_cover_every_row_and_are_the_same_for_the_same_seed():
    rows = rows_of(train=17, boxes=3)
    rounds = split_rounds(rows, seed=5)

    trains = [images(r, "TRAIN") for r in rounds]
    assert (
        trains[0].isdisjoint(trains[1])
        and trains[1].isdisjoint(trains[2])
        and trains[0].isdisjoint(trains[2])
    )
    assert sorted(map(tuple, sum(rounds, []))) == sorted(map(tuple, rows))
    assert split_rounds(rows, seed=5) == rounds
    assert [images(r, "TRAIN") for r in split_rounds(rows, seed=6)] != trains


def test_the_bccd_rounds_hold_40_70_and_100_percent_of_its_train_images():
    if not BCCD.is_file():
        pytest.skip(f"{BCCD} not here")
    rows = list(csv.reader(BCCD.open()))
    rounds = split_rounds(rows)
    cumulative = [len(set().union(*(images(r, "TRAIN") for r in rounds[: k + 1]))) for k in range(3)]
    assert cumulative == [round(0.4 * 205), round(0.7 * 205), 205]
    assert images(rounds[0], "TEST") == images(rows, "TEST") and len(images(rows, "TEST")) == 72


@pytest.mark.parametrize("fractions", [(0.4, 0.7), (0.7, 0.4, 1.0), (0.0, 1.0), ()])
def test_fractions_must_rise_above_zero_and_end_at_one(fractions):
    with pytest.raises(ValueError, match="must rise above 0 and end at 1.0"):
        split_rounds(rows_of(train=4), fractions)


def test_subsample_keeps_whole_images_per_split_and_the_csv_gets_absolute_paths(tmp_path):
    rows = subsample(rows_of(train=6, validation=4, test=4), per_split=2)
    assert [len(images(rows, use)) for use in ("TRAIN", "VALIDATION", "TEST")] == [2, 2, 2]
    assert len(rows) == 12

    path = write_csv(rows, tmp_path / "r" / "round1.csv", Path("/data/bccd"))
    written = list(csv.reader(path.open()))
    assert written[0][1] == f"/data/bccd/{rows[0][1]}"
    assert [r[:1] + r[2:] for r in written] == [r[:1] + r[2:] for r in rows]


def summary(map50: float, ap_by_iou: dict[float, float] | None = None, per_label=None) -> dict:
    curves = [{"iouThreshold": iou, "meanAveragePrecision": ap} for iou, ap in (ap_by_iou or {}).items()]
    return {"meanAveragePrecisionAt50": map50, "boundingBoxMeanAveragePrecision": 0.1, "curves": curves,
            "perLabel": per_label or []}  # fmt: skip


def test_map_at_takes_coco_map_from_the_curves_not_the_23_threshold_mean():
    coco = {round(0.5 + 0.05 * i, 2): 0.9 - 0.05 * i for i in range(10)}
    assert map_at(summary(0.9, {0.05: 1.0, **coco, 0.99: 0.0})) == (0.9, pytest.approx(0.675))
    # no curves: the per-label ap5095 the service reports
    per_label = [{"label": "RBC", "ap5095": 0.5}, {"label": "WBC", "ap5095": 0.7}]
    assert map_at(summary(0.8, per_label=per_label)) == (0.8, pytest.approx(0.6))
    assert map_at(None) == (None, None)


def entry(start: str, map50: float, cap: float, wall: int, stop: str = "BUDGET_REACHED") -> dict:
    return {
        "start": start,
        "map50": map50,
        "max_train_seconds": cap,
        "train_wall_s": wall,
        "stop_reason": stop,
    }


def test_target_is_met_by_a_warm_round_with_a_third_of_the_time_that_ends_no_lower():
    cold = entry("cold", 0.90, 420, 520)
    assert target([entry("cold", 0.8, 420, 500), entry("warm", 0.90, 140, 230)], cold)["met"] is True
    lower = target([entry("warm", 0.89, 140, 230)], cold)
    assert lower["met"] is False and "0.890 below the cold run's 0.900" in lower["why"]
    assert target([entry("warm", 0.95, 150, 230)], cold)["met"] is False
    assert target([entry("cold", 0.95, 140, 230)], cold)["why"] == "the last round was not warm-started"
    assert target([], cold)["met"] is None


def test_a_cold_reference_that_converged_early_is_compared_by_wall_time():
    cold = entry("cold", 0.90, 420, 300, stop="MODEL_CONVERGED")
    slow = target([entry("warm", 0.92, 140, 230)], cold)
    assert (slow["met"], slow["basis"]) == (False, "walls")
    assert target([entry("warm", 0.92, 140, 100)], cold)["met"] is True


def round_entry(k: int, promoted: bool, decided_by: str, champion: float | None) -> dict:
    return {
        "round": k, "train_images": 40 * k, "start": "cold" if k == 1 else "warm", "max_train_seconds": 140.0,
        "map50": 0.85 + k / 100, "map50_95": 0.5, "champion_model": "M1" if champion else None,
        "champion_map50": champion, "champion_map50_95": 0.49 if champion else None, "same_images": True,
        "promoted": promoted, "decided_by": decided_by, "reason": "WBC AP@0.5 drops 0.05 | more",
        "train_wall_s": 230, "round_wall_s": 300, "load_1m": 4.5,
    }  # fmt: skip


def record(smoke: bool, rounds: list[dict], met: bool | None, started: str) -> dict:
    return {
        "started": started, "smoke": smoke, "git": {"commit": "abcdef0123", "dirty": smoke},
        "cold_seconds": 420.0, "warm_seconds": 140.0,
        "machine": {"cpu_model": "AMD EPYC", "cores": 2, "load_average_1m": 2.5},
        "load_end": 3.0, "minutes": 31.0, "rounds": rounds, "cold": round_entry(1, True, "first-model", None),
        "target": {"met": met, "basis": "caps", "why": "met" if met else "TEST mAP@0.5 0.870 below 0.900"},
    }  # fmt: skip


def test_report_shows_the_newest_full_run_round_by_round_and_every_run_in_the_history():
    rounds = [
        round_entry(1, True, "first-model", None),
        round_entry(2, False, "label-drop", 0.86),
        round_entry(3, True, "promoted", 0.86),
    ]
    full = record(False, rounds, True, "2026-12-06T05:00:00+00:00")
    smoke = record(True, [round_entry(1, True, "first-model", None)], None, "2026-12-06T05:40:00+00:00")
    text = render_markdown([full, smoke])

    table = text.split("| round |")[1].split("Target")[0]
    assert (
        "| 2 | 80 | warm | 140 s | 0.870 / 0.500 | 0.860 / 0.490 (same images) | refused (label-drop) |"
        in table
    )
    assert "WBC AP@0.5 drops 0.05 \\| more | 230 s | 300 s | 4.5 |" in table
    assert "| cold reference | 40 | cold |" in table
    assert (
        "Target: ✓ met (judged by the caps): round 3 (warm, cap 140 s, wall 230 s) 0.880 vs the cold "
        "reference (cap 140 s, wall 230 s) 0.860." in text
    )
    assert "Measured 2026-12-06T05:00 at commit abcdef0 on AMD EPYC, 2 cores" in text
    history = text.split("| started |")[1]
    assert (
        "| 2026-12-06T05:00 | abcdef0 |  | 2.5 | 420 / 140 | P(first-model), R(label-drop), P(promoted) | ✓ |"
        in history
    )
    assert "| 2026-12-06T05:40 | abcdef0! | yes |" in history
