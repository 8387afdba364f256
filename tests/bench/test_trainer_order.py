"""The paired-bootstrap order benchmark: what it concludes from per-resample scores and how it reports it."""

from pathlib import Path

import numpy as np
import pytest

from benchmarks.studies.bootstrap import map50_of_draws
from benchmarks.studies.trainer_order_bench import compare, compare_seed_means, mean_label_ap, render_markdown
from edgetrain_trainer.data.dataset import Example
from edgetrain_trainer.data.rows import Box
from edgetrain_trainer.evaluation import evaluate
from tests.trainer.test_evaluation import LABELS, noisy_case

LOW, VERSATILE, HIGH = "mobile-low-latency-1", "mobile-versatile-1", "mobile-high-accuracy-1"


def packages(*types: str, seed: int) -> dict[str, dict]:
    """The same package entry for each of types."""
    package = {"trained": "2026-12-03T05:08:04+00:00", "commit": "5b061e5", "seed": seed}
    return dict.fromkeys(types, package)


def order_record(dataset: str, entry: dict, draws: int, skipped: list | None = None) -> dict:
    """A trainer_order record with one dataset's entry, as main() saves it."""
    return {
        "started": "2026-12-03T10:00:00+00:00",
        "git": {"commit": "abcdef0123"},
        "machine": {"cpu_model": "Xeon", "cores": 2},
        "draws": draws,
        "datasets": {dataset: entry},
        "skipped": skipped or [],
    }


def test_pairs_are_judged_on_the_same_resamples():
    # versatile is always 0.01 above low-latency (paired: it leads in every resample although the two
    # ranges overlap); high-accuracy is above versatile in 3 resamples of 4
    low = np.array([0.80, 0.90, 0.85, 0.95])
    scores = {LOW: low, VERSATILE: low + 0.01, HIGH: low + np.array([0.02, 0.02, 0.02, -0.01])}
    result = compare(scores, {LOW: 0.88, VERSATILE: 0.89, HIGH: 0.905})

    assert result["types"][LOW]["map50"] == 0.88
    first, second = result["pairs"]
    assert (first["lower"], first["upper"], first["upper_higher_share"]) == (LOW, VERSATILE, 1.0)
    assert first["gap_on_test"] == pytest.approx(0.01)
    assert first["gap_range95"] == pytest.approx([0.01, 0.01])
    assert (second["upper"], second["upper_higher_share"]) == (HIGH, 0.75)
    assert result["strictly_ordered_share"] == 0.75


def test_a_tie_is_not_a_lead_and_two_types_give_no_three_way_verdict():
    same = np.array([0.9, 0.8])
    result = compare({LOW: same, HIGH: same.copy()}, {LOW: 0.85, HIGH: 0.85})
    (pair,) = result["pairs"]
    assert (pair["lower"], pair["upper"], pair["upper_higher_share"]) == (LOW, HIGH, 0.0)
    assert "strictly_ordered_share" not in result


def test_report_shows_ranges_leads_and_skipped_packages():
    low = np.linspace(0.85, 0.95, 40)
    result = compare(
        {LOW: low, VERSATILE: low - 0.01, HIGH: low + 0.02}, {LOW: 0.9, VERSATILE: 0.89, HIGH: 0.92}
    )
    record = order_record(
        "bccd",
        {"test_images": 72, "packages": packages(LOW, VERSATILE, HIGH, seed=1), **result},
        draws=40,
        skipped=[{"dataset": "cards", "model_type": LOW, "reason": "/tmp/x is gone"}],
    )
    run = {"started": "2026-12-03T05:08:04+00:00", "git": {"commit": "5b061e5aaa"}, "seed": 0}
    record["datasets"]["bccd"]["seed_mean"] = compare_seed_means(
        {
            LOW: [(run, 0.9, low), ({**run, "seed": 1}, 0.92, low + 0.02)],
            VERSATILE: [(run, 0.89, low - 0.01)],
            HIGH: [(run, 0.92, low + 0.02)],
        }
    )
    text = render_markdown([record])
    means = text.split("Mean over seeds")[1]
    assert f"| {LOW} | 0: 0.900, 1: 0.920 | 0.910 | 0.863–0.958 |" in means
    assert f"| {LOW} → {VERSATILE} | -0.020 | -0.020 to -0.020 | 0 % |" in means
    assert "**bccd** (72 TEST images)" in text
    assert f"| {VERSATILE} | 0.890 | 0.843–0.938 | 2026-12-03T05:08 | 5b061e5 | 1 |" in text
    assert f"| {LOW} → {VERSATILE} | -0.010 | -0.010 to -0.010 | 0 % |" in text
    assert f"| {VERSATILE} → {HIGH} | +0.030 | +0.030 to +0.030 | 100 % |" in text
    assert "All three strictly ordered in 0 % of the resamples." in text
    assert f"- skipped cards {LOW}: /tmp/x is gone" in text


def test_seed_means_average_each_types_trainings_resample_by_resample():
    def training(seed: int, on_test: float, figures: list[float]):
        record = {"started": f"2026-12-03T0{seed}:00", "git": {"commit": "abcdef0123"}, "seed": seed}
        return record, on_test, np.array(figures)

    # low-latency's seed 1 beats versatile on both resamples; its mean (0.93, 0.90) only on the second
    scored = {
        LOW: [training(0, 0.90, [0.90, 0.86]), training(1, 0.95, [0.96, 0.94])],
        VERSATILE: [training(0, 0.94, [0.94, 0.89])],
    }
    means = compare_seed_means(scored)
    assert means["types"][LOW]["map50"] == pytest.approx(0.925)
    (pair,) = means["pairs"]
    assert pair["gap_on_test"] == pytest.approx(0.015)
    assert pair["upper_higher_share"] == 0.5
    assert [p["seed"] for p in means["trainings"][LOW]] == [0, 1]
    assert means["trainings"][LOW][1] == {
        "trained": "2026-12-03T01:00",
        "commit": "abcdef0",
        "seed": 1,
        "map50": 0.95,
    }


def test_per_label_ap_is_averaged_over_each_types_trainings_and_shown_with_the_box_counts():
    def image(name: str, *labels: str) -> Example:
        boxes = tuple(Box(label, 0.1, 0.1, 0.5, 0.5, ["nine", "ten"].index(label)) for label in labels)
        return Example(Path(name), name, "TEST", "TEST", boxes, 100, 100)

    test = [image("a.jpg", "nine", "ten"), image("b.jpg", "ten", "ten")]
    per_label = mean_label_ap(
        {
            LOW: [{"nine": 0.9, "ten": 0.8}, {"nine": 1.0, "ten": 0.7}],
            HIGH: [{"nine": 1.0, "ten": 0.95}],
        },
        test,
        ["nine", "ten"],
    )
    assert per_label["boxes"] == {"nine": 1, "ten": 3}
    assert per_label["types"][LOW] == {"nine": pytest.approx(0.95), "ten": pytest.approx(0.75)}

    result = compare({LOW: np.array([0.8]), HIGH: np.array([0.9])}, {LOW: 0.8, HIGH: 0.9})
    record = order_record(
        "cards",
        {"test_images": 2, "packages": packages(LOW, HIGH, seed=0), **result, "per_label": per_label},
        draws=1,
    )
    text = render_markdown([record])
    assert f"| label | TEST boxes | {LOW} | {HIGH} |" in text
    assert "| ten | 3 | 0.750 | 0.950 |" in text


def test_a_dataset_whose_packages_are_gone_keeps_its_last_complete_comparison():
    scores = np.linspace(0.85, 0.95, 10)
    result = compare(
        {LOW: scores, VERSATILE: scores + 0.01, HIGH: scores + 0.02}, {LOW: 0.9, VERSATILE: 0.91, HIGH: 0.92}
    )
    earlier = order_record(
        "bccd", {"test_images": 72, "packages": packages(LOW, VERSATILE, HIGH, seed=1), **result}, draws=10
    )
    partial = compare({LOW: scores, HIGH: scores}, {LOW: 0.7, HIGH: 0.7})
    partial_record = order_record(
        "bccd", {"test_images": 72, "packages": packages(LOW, HIGH, seed=0), **partial}, draws=10
    )
    partial_record["started"] = "2026-12-03T11:00:00+00:00"
    gone = [{"dataset": "bccd", "model_type": VERSATILE, "reason": "/tmp/v is gone"}]
    latest = {
        **order_record("cards", earlier["datasets"]["bccd"], draws=10, skipped=gone),
        "started": "2026-12-04T09:00:00+00:00",
    }

    text = render_markdown([earlier, partial_record, latest])
    assert f"- skipped bccd {VERSATILE}: /tmp/v is gone" in text
    kept = text.split("bccd, its last comparison with all three headline packages")[1]
    assert "**bccd** (72 TEST images)" in kept
    assert f"| {VERSATILE} | 0.910 |" in kept
    assert "Measured 2026-12-03T10:00 at commit abcdef0" in kept
    assert "0.700" not in text  # a partial comparison is never shown as the last complete one


def test_map50_of_draws_equals_evaluating_each_resample_from_scratch():
    examples, predictions = noisy_case(1, 15, false_positives=3)
    rng = np.random.default_rng(2)
    n = len(examples)
    # the images as they are, six resamples, and one image (one class only) fifteen times
    draws = np.vstack([np.arange(n), rng.integers(0, n, (6, n)), np.full(n, 3)])

    expected = [
        evaluate([examples[i] for i in draw], LABELS, [predictions[i] for i in draw]).map50 for draw in draws
    ]
    assert len(set(np.round(expected, 6))) > 4  # the draws score differently: the comparison means something
    assert map50_of_draws(examples, LABELS, predictions, draws) == pytest.approx(expected, abs=1e-12)
