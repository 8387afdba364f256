"""The weight selection study's section of BENCHMARKS.md."""

from benchmarks.studies.weight_selection_bench import render_markdown


def study(tail_average: dict | None) -> dict:
    # six epochs; the plateau is the last three: TEST 0.95, 0.97, 0.96 against validation 0.98, 0.99, 0.97
    scores = [(0.5, 0.6), (0.8, 0.82), (0.9, 0.91), (0.98, 0.95), (0.99, 0.97), (0.97, 0.96)]
    return {
        "bench": "weight_selection",
        "dataset": "cards",
        "model_type": "mobile-high-accuracy-1",
        "run_started": "2026-12-02T17:09:25+00:00",
        "run_commit": "e2ce6c0f67",
        "run_overrides": {"tail_average_lr_fraction": 0.5} if tail_average else {},
        "exported_test_map50_int8": 0.968,
        "kept_weights_test_map50_keras": 0.97,
        "best_val_snapshot": {"epoch": 5, "val_map50": 0.99, "test_map50": 0.97},
        "snapshots": [
            {"epoch": i + 1, "val_map50": val, "test_map50": test} for i, (val, test) in enumerate(scores)
        ],
        "tail_average_test_map50": {"5": 0.965},  # fewer than 10 epochs: no longer averages
        "run_tail_average": tail_average,
    }


def test_row_shows_the_kept_weights_against_the_plateau_and_the_averages():
    table = render_markdown([study({"val_map50": 0.975, "test_map50": 0.962, "kept": False})])
    row = table.splitlines()[-1]
    assert row == (
        "| 2026-12-02T17:09 | cards | mobile-high-accuracy-1 | tail_average_lr_fraction 0.5 | e2ce6c0 | 6 "
        "| 0.970 (0.968) | 5, 0.990 → 0.970 | 0.960 ± 0.008 (0.950–0.970) | 0.50 "
        "| 0.965 / – / – | 0.975 → 0.962, not kept |"
    )


def test_a_run_without_a_tail_average_says_so():
    row = render_markdown([study(None)]).splitlines()[-1]
    assert "| none |" in row and row.endswith("| 0.965 / – / – | – |")
