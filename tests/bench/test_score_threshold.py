"""The score-threshold benchmark's report."""

from benchmarks.studies.score_threshold_bench import render_markdown


def test_report_lists_each_threshold_with_its_map_and_latency_newest_first():
    def record(started: str, cpu: str, entries: list[dict]) -> dict:
        return {
            "started": started,
            "machine": {"cpu_model": cpu},
            "git": {"commit": "abcdef0123"},
            "dataset": "bccd",
            "model_type": "mobile-versatile-1",
            "model_dir": "/x/out/model",
            "protocol": {"threads": 2, "images": 8, "rounds": 5, "runs": 40},
            "entries": entries,
        }

    def entry(threshold: float, map50: float, median: float) -> dict:
        rounds = [median - 1, median, median + 2]
        return {
            "threshold": threshold,
            "map50": map50,
            "map50_95": 0.5,
            "median_ms": median,
            "rounds_ms": rounds,
            "entries_per_image": 200,
        }

    older = record("2026-12-03T19:00:00+00:00", "Xeon", [entry(0.01, 0.9, 12.0)])
    newer = record(
        "2026-12-03T20:00:00+00:00", "AMD EPYC", [entry(0.01, 0.913, 21.8), entry(0.05, 0.913, 16.0)]
    )
    text = render_markdown([older, newer])
    rows = [line.split(" | ")[1:10] for line in text.splitlines() if line.startswith("| 2026")]
    assert rows == [
        ["AMD EPYC", "bccd", "mobile-versatile-1", "0.01", "0.9130", "0.5000", "21.8 ms", "20.8–23.8", "200"],
        ["AMD EPYC", "bccd", "mobile-versatile-1", "0.05", "0.9130", "0.5000", "16.0 ms", "15.0–18.0", "200"],
        ["Xeon", "bccd", "mobile-versatile-1", "0.01", "0.9000", "0.5000", "12.0 ms", "11.0–14.0", "200"],
    ]
