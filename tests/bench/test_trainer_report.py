"""The trainer section of BENCHMARKS.md: which run each headline row shows."""

from benchmarks.trainer_report import EARLIER_RECIPES, default_recipe_runs, recipe_runs
from benchmarks.trainer_table import render_markdown
from edgetrain_trainer.config import TrainerConfig

HIGH = "mobile-high-accuracy-1"


def run(started: str, map50: float, overrides: dict, status: str = "ok", **fields) -> dict:
    """A trainer benchmark record; its trainer_config as trainer_bench records it (overrides applied)."""
    return {
        "trainer_config": TrainerConfig.from_overrides(overrides).to_dict(),
        "status": status,
        "started": started,
        "dataset": "cards",
        "model_type": HIGH,
        "budget_milli_node_hours": 1000,
        "overrides": overrides,
        "map50": map50,
        "map50_95": 0.7,
        "stop_reason": "MODEL_CONVERGED",
        "train_cost_milli_node_hours": 900,
        "wall_s": 3000.0,
        "threads": 2,
        "time_to_target_s": 2000.0,
        "latency_ms_median_2threads": 18.6,
        "latency_images": "test",
        "size_bytes": 6_250_000,
        "peak_rss_bytes": 3_500_000_000,
        "targets": {"map50": 0.95, "size_mb": 7.2, "latency_ms": None, "met": {"map50": False, "size": True}},
        "git": {"commit": "abcdef0123", "dirty": False},
        "machine": {
            "cpu_model": "cpu",
            "cores": 2,
            "ram_bytes": 24 * 2**30,
            "gpu": None,
            "load_average_1m": 0.5,
            "tensorflow": "2.21.0",
        },
        **fields,
    }


def sections(records: list[dict]) -> tuple[str, str]:
    """(headline table, All runs) of the rendered section."""
    text = render_markdown(records)
    return text.split("### Mean over seeds")[0], text.split("### All runs")[1]


def test_time_caps_are_the_default_recipe_other_overrides_are_experiments():
    records = [
        run("2026-11-29T01:00", 0.90, {}),
        run("2026-11-29T02:00", 0.91, {"max_train_seconds": 2400}),
        run("2026-11-29T03:00", 0.92, {"finetune_learning_rate": 2e-4}),
        run("2026-11-29T04:00", 0.93, {}, status="failed"),
        run("2026-11-29T05:00", 0.94, {"threads": 2}),  # pinned cores: how fast, not what it trained
        run("2026-11-29T06:00", 0.95, {"threads": 2, "box_loss": "huber", "selection_metric": "map50"}),
    ]
    assert [r["map50"] for r in default_recipe_runs(records)] == [0.90, 0.91, 0.94]
    huber = next(r for r in EARLIER_RECIPES if r.label == "Huber")
    assert [r["map50"] for r in recipe_runs(records, huber.changes)] == [0.95]


def test_a_record_without_a_config_is_not_counted_as_the_default_recipe():
    unknown = run("2026-11-28T19:10", 0.853, {})
    del unknown["trainer_config"]  # trained from a tree with uncommitted changes before configs were recorded
    assert default_recipe_runs([unknown, run("2026-11-29T01:00", 0.90, {})]) == [
        run("2026-11-29T01:00", 0.90, {})
    ]


def test_a_recorded_trainer_config_decides_even_without_overrides():
    def with_config(started: str, map50: float, **changes) -> dict:
        config = {**TrainerConfig().to_dict(), "augment_scale": [0.6, 1.4], **changes}  # as JSON stores it
        return run(started, map50, {}, trainer_config=config)

    old_rate = TrainerConfig().finetune_learning_rate / 2
    records = [
        with_config("2026-12-04T01:00", 0.97, max_train_seconds=840.0),  # a time cap only
        with_config("2026-12-04T02:00", 0.96, finetune_learning_rate=old_rate),  # an older default
        with_config("2026-12-04T03:00", 0.95, setting_since_removed=3),
    ]
    del records[2]["trainer_config"]["cooldown_epochs"]  # a setting added after the run
    assert [r["map50"] for r in default_recipe_runs(records)] == [0.97, 0.95]


def test_an_experiment_after_the_latest_default_run_does_not_replace_its_headline_row():
    headline, every_run = sections(
        [run("2026-11-29T07:39", 0.929, {}), run("2026-11-29T09:09", 0.865, {"finetune_learning_rate": 2e-4})]
    )
    assert "0.929 (≥ 0.95 ✗)" in headline and "0.865" not in headline
    assert "finetune_learning_rate 0.0002" in every_run and "0.929" in every_run


def test_a_re_export_replaces_its_training_headline_row_and_names_both_commits():
    trained = run("2026-11-29T07:39", 0.929, {})
    again = {
        **trained,
        "map50": 0.967,
        "targets": {**trained["targets"], "met": {"map50": True, "size": True}},
        "reexport": {"at": "2026-11-29T15:30:00+00:00", "git": {"commit": "2c54ddc999", "dirty": False}},
    }
    headline, every_run = sections([trained, again])
    assert "0.967 (≥ 0.95 ✓)" in headline and "0.929" not in headline
    assert f"{trained['git']['commit'][:7]} → 2c54ddc re-export" in headline
    assert "0.929" in every_run and "0.967" in every_run


def test_a_re_export_of_an_earlier_training_does_not_displace_a_later_training():
    earlier, later = run("2026-11-29T05:36", 0.900, {}), run("2026-11-29T14:51", 0.899, {})
    earlier_again = {
        **earlier,
        "map50": 0.904,
        "reexport": {"at": "2026-11-29T15:55:00+00:00", "git": {"commit": "2c54ddc999", "dirty": False}},
    }
    headline, every_run = sections([earlier, later, earlier_again])
    assert "0.899" in headline and "0.904" not in headline
    assert all(f"{m:.3f}" in every_run for m in (0.900, 0.899, 0.904))


def test_means_over_seeds_group_by_time_cap_count_a_training_once_and_judge_the_order():
    low, versatile = "mobile-low-latency-1", "mobile-versatile-1"
    capped = {"max_train_seconds": 840}
    low_0 = run("2026-12-03T05:53", 0.917, capped, model_type=low, seed=0)
    records = [
        low_0,
        run("2026-12-03T06:00", 0.990, {}, model_type=low),  # no cap: another group, not the headline's
        run("2026-12-03T11:15", 0.923, capped, model_type=low, seed=1),
        {
            **low_0,
            "map50": 0.919,
            "reexport": {"at": "2026-12-03T12:00", "git": {"commit": "1234567", "dirty": False}},
        },
        run("2026-12-03T07:00", 0.930, {}, model_type=versatile),
        run("2026-12-03T08:00", 0.910, {"finetune_learning_rate": 1e-3}, model_type=versatile),  # experiment
        run("2026-12-03T09:00", 0.940, {}, seed=0),
        run("2026-12-03T10:00", 0.950, {}, seed=1),
    ]
    means = render_markdown(records).split("### Mean over seeds")[1].split("### All runs")[0]
    assert (
        f"| cards | {low} | 1,000 | 840 s | 2 (0, 1) | 0.921 (0.919–0.923) |" in means
    )  # re-export of seed 0
    assert f"| cards | {low} | 1,000 | none | 1 (0) | 0.990 (0.990–0.990) |" in means
    assert f"| cards | {versatile} | 1,000 | none | 1 (0) | 0.930 (0.930–0.930) |" in means
    assert f"| cards | {HIGH} | 1,000 | none | 2 (0, 1) | 0.945 (0.940–0.950) |" in means
    assert (
        "- cards, the headline rows' groups by model type: 0.921 < 0.930 < 0.945 (strictly ordered)" in means
    )

    records.append(run("2026-12-03T12:00", 0.900, {}, seed=2))  # high-accuracy's mean drops to 0.930
    means = render_markdown(records).split("### Mean over seeds")[1]
    assert "0.921 / 0.930 / 0.930 (not strictly ordered)" in means


def test_a_run_exported_at_another_score_threshold_trained_the_default_recipe_and_is_marked():
    old_export = run("2026-12-03T09:00", 0.96, {"score_threshold": 0.01})
    today = run("2026-12-04T09:00", 0.97, {}, dataset="bccd")
    assert default_recipe_runs([old_export, today]) == [old_export, today]
    headline, _ = sections([old_export, today])
    assert "| 18.6 ms ‡ 0.01 |" in headline  # cards: exported at 0.01
    assert f"| bccd | {HIGH} |" in headline and headline.count("‡ 0.01") == 1


def test_runs_recorded_before_a_setting_count_at_its_value_then_each_in_its_own_recipe_table():
    """GIoU and mAP@[.5:.95] selection each became the default with their setting: a config without
    `box_loss` trained with Huber, one without `selection_metric` selected on mAP@0.5."""
    before = run("2026-12-03T11:15", 0.903, {}, dataset="bccd")
    for name in ("box_loss", "giou_weight", "selection_metric"):
        del before["trainer_config"][name]
    huber = run("2026-12-03T12:00", 0.910, {"box_loss": "huber", "selection_metric": "map50"})
    giou = run("2026-12-06T02:51", 0.923, {}, dataset="raccoon")
    del giou["trainer_config"]["selection_metric"]
    today = run("2026-12-06T11:00", 0.931, {}, dataset="raccoon")
    records = [before, huber, giou, today]
    selection, huber_recipe = EARLIER_RECIPES
    assert default_recipe_runs(records) == [today]
    assert recipe_runs(records, selection.changes) == [giou]
    assert recipe_runs(records, huber_recipe.changes) == [before, huber]

    text = render_markdown(records)
    headline, rest = text.split("### Earlier recipe: mAP@0.5 selection")
    selection_table, rest = rest.split("### Earlier recipe: Huber")
    huber_table, means = rest.split("### Mean over seeds")
    assert "0.931" in headline and not {"0.903", "0.910", "0.923"} & set(headline.split())
    assert "0.923 (≥" in selection_table and "0.903" not in selection_table
    assert "| bccd | " in huber_table and "0.903 (≥" in huber_table and "0.910 (≥" in huber_table
    assert (
        "Not yet trained with today's recipe: bccd mobile-high-accuracy-1, cards mobile-high-accuracy-1"
        in huber_table
    )
    assert f"| bccd | {HIGH} | 1,000 | none | 1 (0) | 0.903 (0.903–0.903) |" in means
    assert "0.903 (0.903–0.903) | 0.700 | 50.0 min | Huber |" in means
    assert "0.923 (0.923–0.923) | 0.700 | 50.0 min | mAP@0.5 selection |" in means
    assert "0.931 (0.931–0.931) | 0.700 | 50.0 min | today's |" in means
    every_run = text.split("### All runs")[1]
    rows = [line.split(" | ") for line in every_run.splitlines() if line.startswith("| 2026")]
    assert [(row[4], row[5]) for row in rows] == [
        ("huber", "map50"),
        ("huber", "map50"),
        ("giou", "map50"),
        ("giou", "map50_95"),
    ]
