"""The back-to-back latency benchmark: which packages it times and how it reports the ordering."""

from benchmarks.trainer_latency_bench import ordering, render_markdown
from benchmarks.trainer_report import latest_packages
from edgetrain_trainer.config import TrainerConfig

LOW, VERSATILE, HIGH = "mobile-low-latency-1", "mobile-versatile-1", "mobile-high-accuracy-1"


def run(dataset, model_type, started, status="ok", overrides=None):
    return {
        "dataset": dataset,
        "model_type": model_type,
        "started": started,
        "status": status,
        "overrides": overrides or {},
        "trainer_config": TrainerConfig.from_overrides(overrides).to_dict(),
    }


def test_latest_successful_run_of_each_dataset_and_type_in_type_order():
    records = [
        run("cards", HIGH, "1"),
        run("bccd", VERSATILE, "2"),
        run("cards", LOW, "3"),
        run("cards", HIGH, "4"),
        run("cards", HIGH, "5", status="failed"),
        run("cards", HIGH, "6", overrides={"finetune_learning_rate": 2e-4}),  # an experiment
        run("bccd", VERSATILE, "7", overrides={"max_train_seconds": 1200}),  # a time cap: the default recipe
    ]
    chosen = [(r["dataset"], r["model_type"], r["started"]) for r in latest_packages(records)]
    assert chosen == [("bccd", VERSATILE, "7"), ("cards", LOW, "3"), ("cards", HIGH, "4")]


def timed(dataset, model_type, ms):
    return {"dataset": dataset, "model_type": model_type, "median_ms": ms}


def test_ordering_needs_all_three_types_strictly_increasing():
    packages = [
        timed("bccd", LOW, 10.6),
        timed("bccd", VERSATILE, 17.2),
        timed("bccd", HIGH, 22.0),
        timed("cards", LOW, 5.6),
        timed("cards", VERSATILE, 17.1),
        timed("cards", HIGH, 17.1),  # a tie is not strictly ordered
        timed("voc", LOW, 3.0),  # only one type timed: no verdict
    ]
    assert ordering(packages) == {"bccd": True, "cards": False}


def test_report_shows_each_package_the_verdicts_and_what_was_skipped():
    entry = {
        "trained": "2026-11-29T06:10:13+00:00",
        "commit": "24820bc",
        "fastest_round_ms": 11.6,
        "slowest_round_ms": 11.9,
        "detections_per_image": 14.5,
    }
    record = {
        "started": "2026-11-29T08:00:00+00:00",
        "git": {"commit": "abcdef0123"},
        "machine": {"cpu_model": "Xeon", "cores": 2, "load_average_1m": 0.1},
        "protocol": {"rounds": 5, "runs": 40, "images": 8, "threads": 2},
        "packages": [
            {**timed("cards", LOW, 5.6), **entry, "exported_commit": "2c54ddc"},  # re-exported
            {**timed("cards", VERSATILE, 11.7), **entry},
            {**timed("cards", HIGH, 17.1), **entry},
        ],
        "skipped": [{"dataset": "bccd", "model_type": LOW, "reason": "/tmp/x is gone"}],
    }
    text = render_markdown([record])
    assert "| cards | mobile-versatile-1 | 11.7 ms | 11.6–11.9 | 14.5 | 2026-11-29T06:10 | 24820bc |" in text
    assert "| 2026-11-29T06:10 | 24820bc → 2c54ddc re-export |" in text
    assert "- cards: latency strictly ordered by model type: ✓" in text
    assert "- skipped bccd mobile-low-latency-1: /tmp/x is gone" in text
    assert "load 0.1 at start." in text  # no speed probe before 2026-11-29 13:00
    text = render_markdown([{**record, "speed_probe": {"step_ms": 402.4}}])
    assert "load 0.1 at start; speed probe 402 ms." in text


def test_a_dataset_the_latest_run_could_not_time_whole_keeps_its_last_complete_measurement():
    entry = {"trained": "2026-11-29T04:00:00+00:00", "commit": "aaaaaaa", "fastest_round_ms": 1.0}
    entry |= {"slowest_round_ms": 2.0, "detections_per_image": 100}
    machine = {"cpu_model": "Xeon", "cores": 2, "load_average_1m": 0.1}
    protocol = {"rounds": 5, "runs": 40, "images": 8, "threads": 2}

    def measurement(started, packages, skipped=()):
        return {
            "started": started,
            "git": {"commit": f"{started[11:13]}00000"},
            "machine": machine,
            "protocol": protocol,
            "packages": [{**timed(*p), **entry} for p in packages],
            "skipped": [{"dataset": d, "model_type": t, "reason": "gone"} for d, t in skipped],
        }

    complete = [("bccd", LOW, 12.1), ("bccd", VERSATILE, 17.7), ("bccd", HIGH, 25.4), ("cards", LOW, 7.0)]
    records = [
        measurement("2026-11-29T09:00:00", complete[:2] + [("bccd", HIGH, 16.0)]),  # older, not ordered
        measurement("2026-11-29T15:00:00", complete),
        measurement(
            "2026-11-29T21:00:00", [("bccd", VERSATILE, 20.6)], skipped=[("bccd", LOW), ("bccd", HIGH)]
        ),
    ]

    text = render_markdown(records)

    current, earlier = text.split("bccd, its last measurement with all three types")
    assert "| bccd | mobile-versatile-1 | 20.6 ms |" in current and "Measured 2026-11-29T21:00" in current
    assert earlier.startswith(" (latency strictly ordered: ✓):")
    assert "| bccd | mobile-high-accuracy-1 | 25.4 ms |" in earlier and "| cards |" not in earlier
    assert "Measured 2026-11-29T15:00 at commit 1500000" in earlier
    assert "cards, its last measurement" not in text  # nothing of cards was skipped
    assert "its last measurement" not in render_markdown(records[:2])  # nothing skipped at all
