"""The trainer section of BENCHMARKS.md: which run each headline row shows."""

from benchmarks.trainer_report import default_recipe_runs, render_markdown
from edgetrain_trainer.config import TrainerConfig

HIGH = "mobile-high-accuracy-1"


def run(started: str, map50: float, overrides: dict, status: str = "ok") -> dict:
    return {
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
    }


def test_time_caps_are_the_default_recipe_other_overrides_are_experiments():
    records = [
        run("2026-11-29T01:00", 0.90, {}),
        run("2026-11-29T02:00", 0.91, {"max_train_seconds": 2400}),
        run("2026-11-29T03:00", 0.92, {"finetune_learning_rate": 2e-4}),
        run("2026-11-29T04:00", 0.93, {}, status="failed"),
    ]
    assert [r["map50"] for r in default_recipe_runs(records)] == [0.90, 0.91]


def test_a_run_that_tried_todays_default_before_it_was_one_is_the_default_recipe():
    rate = TrainerConfig().finetune_learning_rate
    records = [
        run("2026-12-03T03:38", 0.993, {"finetune_learning_rate": rate}),
        run("2026-12-03T04:00", 0.95, {"finetune_learning_rate": rate / 2}),
        run("2026-12-03T05:00", 0.96, {"finetune_learning_rate": rate, "no_such_setting": 1}),
    ]
    assert [r["map50"] for r in default_recipe_runs(records)] == [0.993]


def test_a_recorded_trainer_config_decides_even_without_overrides():
    def with_config(started: str, map50: float, **changes) -> dict:
        config = {**TrainerConfig().to_dict(), "augment_scale": [0.6, 1.4], **changes}  # as JSON stores it
        return {**run(started, map50, {}), "trainer_config": config}

    old_rate = TrainerConfig().finetune_learning_rate / 2
    records = [
        with_config("2026-12-04T01:00", 0.97, max_train_seconds=840.0),  # a time cap only
        with_config("2026-12-04T02:00", 0.96, finetune_learning_rate=old_rate),  # an older default
        with_config("2026-12-04T03:00", 0.95, setting_since_removed=3),
    ]
    del records[2]["trainer_config"]["cooldown_epochs"]  # a setting added after the run
    assert [r["map50"] for r in default_recipe_runs(records)] == [0.97, 0.95]


def test_an_experiment_after_the_latest_default_run_does_not_replace_its_headline_row():
    text = render_markdown(
        [run("2026-11-29T07:39", 0.929, {}), run("2026-11-29T09:09", 0.865, {"finetune_learning_rate": 2e-4})]
    )
    headline, every_run = text.split("### All runs")
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
    headline, every_run = render_markdown([trained, again]).split("### All runs")
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
    headline, every_run = render_markdown([earlier, later, earlier_again]).split("### All runs")
    assert "0.899" in headline and "0.904" not in headline
    assert all(f"{m:.3f}" in every_run for m in (0.900, 0.899, 0.904))
