"""Latency back to back: the latest package of each dataset x model type in benchmarks/results/trainer.jsonl,
timed one after the other on its dataset's TEST images at 2 threads, so the three types meet the same
machine state. A trainer run's own figure is taken right after its training, hours apart from the others.

    python -m benchmarks.trainer_latency_bench      # run_all runs it after trainer_bench (name order)

Per package: ROUNDS rounds of RUNS invokes cycling through the first IMAGES TEST images; the record keeps the
median of the round medians, the fastest and slowest round, and the mean output entries per image (boxes x
classes per box; the post-processing's cost grows with the candidates above the score threshold). Packages
whose folder is gone (another machine, a cleaned work dir) are listed as skipped.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import git_info, machine_info
from benchmarks.report import RESULTS_DIR, measured_on, newest_covering, read_records, save_record
from benchmarks.speed_probe import probe
from benchmarks.trainer_bench import default_data_root
from benchmarks.trainer_report import latest_packages
from edgetrain_trainer.types import MODEL_TYPES

RESULTS = RESULTS_DIR / "trainer_latency.jsonl"
TRAINER_RESULTS = RESULTS_DIR / "trainer.jsonl"
ROUNDS, RUNS, IMAGES, THREADS = 5, 40, 8, 2


def measure(package_dir: Path, image_paths: list[Path]) -> dict[str, float]:
    from edgetrain_trainer.data.images import load_rgb
    from edgetrain_trainer.export.tflite_detector import TFLiteDetector

    detector = TFLiteDetector(package_dir, num_threads=THREADS)
    images = [detector.prepare(load_rgb(path)) for path in image_paths]
    rounds = [detector.latency_ms(images, runs=RUNS) for _ in range(ROUNDS)]
    return {
        "median_ms": round(statistics.median(rounds), 2),
        "fastest_round_ms": round(min(rounds), 2),
        "slowest_round_ms": round(max(rounds), 2),
        "detections_per_image": round(statistics.mean(len(detector.detect(i).scores) for i in images), 1),
    }


def test_image_paths(data_root: Path, dataset: str) -> list[Path]:
    from edgetrain_trainer.data.dataset import load_dataset
    from edgetrain_trainer.data.rows import TEST

    return [e.image_path for e in load_dataset(data_root / dataset / "annotations.csv").split(TEST)[:IMAGES]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.trainer_latency_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=default_data_root(),
    )
    parser.add_argument("--trainer-results", type=Path, default=TRAINER_RESULTS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    record: dict[str, Any] = {
        "bench": "trainer_latency",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git_info(),
        "protocol": {"rounds": ROUNDS, "runs": RUNS, "images": IMAGES, "threads": THREADS},
        "speed_probe": probe(),
        "packages": [],
        "skipped": [],
    }
    trainer_records = read_records(args.trainer_results) if args.trainer_results.exists() else []
    paths: dict[str, list[Path]] = {}
    for run in latest_packages(trainer_records):
        entry = {
            "dataset": run["dataset"],
            "model_type": run["model_type"],
            "trained": run["started"],
            "commit": (run["git"].get("commit") or "")[:7],
        }
        if "reexport" in run:  # an earlier training exported again (benchmarks/studies/trainer_reexport.py)
            entry["exported_commit"] = (run["reexport"]["git"].get("commit") or "")[:7]
        package = Path(run["package_dir"])
        if not (package / "model.tflite").is_file():
            record["skipped"].append({**entry, "reason": f"{package} is gone"})
            continue
        if run["dataset"] not in paths:
            paths[run["dataset"]] = test_image_paths(args.data_root, run["dataset"])
        entry.update(measure(package, paths[run["dataset"]]))
        record["packages"].append(entry)
        print(f"{entry['dataset']} {entry['model_type']}: {entry['median_ms']} ms", flush=True)
    if not record["packages"]:
        print("no trained packages to time: run benchmarks.trainer_bench first", file=sys.stderr)
        return 1
    save_record(args.results, record)
    return 0


def render_markdown(records: list[dict[str, Any]]) -> str:
    """BENCHMARKS.md section: the latest back-to-back measurement, with the ordering per dataset. A dataset
    it could not time whole (packages gone) keeps its last complete measurement underneath."""
    latest = records[-1]
    p = latest["protocol"]
    lines = [
        "## Trainer latency, back to back",
        "",
        f"Latest package of each dataset x model type, int8 TF Lite at {p['threads']} threads, timed one "
        f"after another on the dataset's first {p['images']} TEST images ({p['rounds']} rounds of "
        f"{p['runs']} invokes; median of the round medians, fastest–slowest round).",
        "",
        *_table(latest["packages"]),
        "",
    ]
    verdicts = ordering(latest["packages"])
    for dataset, ordered in verdicts.items():
        lines.append(f"- {dataset}: latency strictly ordered by model type: {'✓' if ordered else '✗'}")
    for s in latest["skipped"]:
        lines.append(f"- skipped {s['dataset']} {s['model_type']}: {s['reason']}")
    lines += ["", _measured(latest), ""]
    skipped = dict.fromkeys(s["dataset"] for s in latest["skipped"])
    untimed = [d for d in skipped if d not in verdicts]
    for dataset, earlier in newest_covering(records[:-1], untimed, lambda r: ordering(r["packages"])):
        ordered = ordering(earlier["packages"])[dataset]
        lines += [
            f"{dataset}, its last measurement with all three types (latency strictly ordered: "
            f"{'✓' if ordered else '✗'}):",
            "",
            *_table([e for e in earlier["packages"] if e["dataset"] == dataset]),
            "",
            _measured(earlier),
            "",
        ]
    return "\n".join(lines)


def _table(packages: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| dataset | model type | latency | rounds | entries per image | trained | commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in packages:
        lines.append(
            f"| {e['dataset']} | {e['model_type']} | {e['median_ms']:.1f} ms "
            f"| {e['fastest_round_ms']:.1f}–{e['slowest_round_ms']:.1f} | {e['detections_per_image']:g} "
            f"| {e['trained'][:16]} | {e['commit']}"
            f"{' → ' + e['exported_commit'] + ' re-export' if 'exported_commit' in e else ''} |"
        )
    return lines


def _measured(record: dict[str, Any]) -> str:
    return f"{measured_on(record)}, load {record['machine']['load_average_1m']} at start" + (
        f"; speed probe {record['speed_probe']['step_ms']:.0f} ms." if record.get("speed_probe") else "."
    )


def ordering(packages: list[dict[str, Any]]) -> dict[str, bool]:
    """Per dataset with all three types timed: is latency strictly increasing low-latency → high-accuracy?"""
    by_dataset: dict[str, dict[str, float]] = {}
    for e in packages:
        by_dataset.setdefault(e["dataset"], {})[e["model_type"]] = e["median_ms"]
    result = {}
    for dataset, times in by_dataset.items():
        if len(times) == len(MODEL_TYPES):
            in_order = [times[t] for t in MODEL_TYPES]
            result[dataset] = all(a < b for a, b in itertools.pairwise(in_order))
    return result


if __name__ == "__main__":
    sys.exit(main())
