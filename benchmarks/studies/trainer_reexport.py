"""Re-export trained benchmark runs with today's export code and evaluate them again on TEST, without training
again: for a change that only touches export or post-processing, an hour-long training per row would measure
the same weights.

    python -m benchmarks.studies.trainer_reexport     # the latest default-recipe run of each dataset x type
    python -m benchmarks.studies.trainer_reexport --started 2026-11-29T06:10  # runs started so (repeatable)
    python -m benchmarks.studies.trainer_reexport --score-threshold 0.05      # at another NMS score threshold

Each re-export appends a record to benchmarks/results/trainer.jsonl: the training's fields (start, wall time,
stop reason, cost, validation curve, peak RSS, speed probe) are the original run's; mAP, latency, size and
package are the new export's, and `reexport` says when, on which machine and at which commit it was made.
The score threshold is an export-only setting (the post-processing op's): `--score-threshold` exports the
same weights at another one, and the record's trainer_config then carries the threshold its package has.
Runs whose model directory is gone (another machine, a cleaned work dir) are skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import git_info, machine_info
from benchmarks.report import read_records, save_record
from benchmarks.trainer_bench import RESULTS, default_data_root, evaluate_package, targets
from benchmarks.trainer_report import latest_packages


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.studies.trainer_reexport", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--started", action="append", default=[], help="start-time prefix of a run")
    parser.add_argument(
        "--score-threshold",
        type=float,
        help="export at this NMS score threshold instead of the run's own (e.g. today's default for runs "
        "exported before it changed)",
    )
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    records = read_records(args.results)
    chosen = select_runs(records, args.started)
    if not chosen:
        print("no run matches", file=sys.stderr)
        return 1
    failures = 0
    for original in chosen:
        model_dir = Path(original["package_dir"]).parent / "model"
        name = f"{original['dataset']} {original['model_type']} {original['started']}"
        if not (model_dir / "trainer.json").exists():
            print(f"{name}: skipped, its model directory {model_dir} is gone", file=sys.stderr)
            failures += 1
            continue
        record = reexport(original, model_dir, args.data_root, args.score_threshold)
        save_record(args.results, record)
        print(
            f"{name}: mAP@0.5 {original['map50']:.4f} → {record['map50']:.4f}, latency "
            f"{original['latency_ms_median_2threads']} → {record['latency_ms_median_2threads']} ms",
            flush=True,
        )
    return 1 if failures else 0


def select_runs(records: list[dict[str, Any]], started: list[str]) -> list[dict[str, Any]]:
    """Successful runs whose start begins with one of `started`; without any, the latest default-recipe run
    of each dataset x model type."""
    if not started:
        return latest_packages(records)
    return [
        r for r in records if r.get("status") == "ok" and any(r["started"].startswith(s) for s in started)
    ]


def export_package(model_dir: Path, dest: Path, score_threshold: float | None = None) -> Path:
    """`model_dir`'s weights as an int8 TF Lite package in `dest`. With `score_threshold`, its post-processing
    keeps boxes scoring at least that instead of the threshold the model was trained with; the weights and
    calibration images are the same (the model directory itself is left as it is)."""
    from edgetrain_trainer.export.package import export_model

    if score_threshold is None:
        return export_model(model_dir, "tflite", dest)
    with tempfile.TemporaryDirectory(prefix="reexport-") as tmp:
        copy = Path(tmp) / "model"
        shutil.copytree(model_dir, copy)
        spec_path = copy / "trainer.json"
        spec = json.loads(spec_path.read_text())
        spec["config"]["score_threshold"] = score_threshold
        spec_path.write_text(json.dumps(spec))
        return export_model(copy, "tflite", dest)


def reexport(
    original: dict[str, Any], model_dir: Path, data_root: Path, score_threshold: float | None = None
) -> dict[str, Any]:
    from edgetrain_trainer.data.dataset import load_dataset
    from edgetrain_trainer.data.rows import TEST

    git = git_info()
    at = datetime.now(UTC)
    dest = model_dir.parent / f"package-reexport-{at.strftime('%Y%m%d-%H%M%S')}"
    export_package(model_dir, dest, score_threshold)
    full = load_dataset(data_root / original["dataset"] / "annotations.csv")
    labels = (dest / "dict.txt").read_text().splitlines()  # the model's classes, in class-id order
    map50, map50_95, latency = evaluate_package(dest, labels, full.split(TEST), full.labels)
    record = {
        **original,
        "map50": map50,
        "map50_95": map50_95,
        "latency_ms_median_2threads": round(latency, 2),
        "latency_images": "test",
        "size_bytes": (dest / "model.tflite").stat().st_size,
        "package_dir": str(dest),
        "reexport": {
            "at": at.isoformat(timespec="seconds"),
            "git": git,
            "machine": machine_info(),
            "of_package_dir": original["package_dir"],
            "of_map50": original["map50"],
        },
    }
    if score_threshold is not None:
        record["reexport"]["score_threshold"] = score_threshold
        # a record without a config is no known recipe: one holding this key alone would pass for the default
        if "trainer_config" in record:
            record["trainer_config"] = {**record["trainer_config"], "score_threshold": score_threshold}
    for stale in ("map50_float32", "int8_map50_loss"):  # measured on the old export
        record.pop(stale, None)
    record["targets"] = targets(original["dataset"], original["model_type"], record)
    return record


if __name__ == "__main__":
    sys.exit(main())
