"""The speed probe: a real timed workload in a child process, and where its figure shows in BENCHMARKS.md."""

from benchmarks.speed_probe import VERSION, probe
from benchmarks.trainer_table import render_markdown
from tests.bench.test_trainer_report import run


def test_the_probe_times_training_steps_in_a_child_process():
    result = probe()
    assert result is not None
    assert result["version"] == VERSION
    assert 0 < result["fastest_ms"] <= result["step_ms"] <= result["slowest_ms"] < 60_000


def test_every_run_shows_its_probe_before_and_after_and_older_runs_none():
    probed = run("2026-11-29T13:00", 0.95, {})
    probed["speed_probe"] = {"before": {"step_ms": 401.2}, "after": {"step_ms": 455.0}}
    every_run = render_markdown([run("2026-11-29T07:39", 0.929, {}), probed]).split("### All runs")[1]
    rows = [line for line in every_run.splitlines() if line.startswith("| 2026")]
    assert "| 401 → 455 ms |" in rows[1]
    assert "|  |" in rows[0]  # no probe recorded
