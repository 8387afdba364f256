"""What the NMS score threshold costs and buys: one trained model exported at several thresholds, each
export's TEST mAP and its int8 latency at 2 threads, timed in alternation.

    python -m benchmarks.studies.score_threshold_bench      # the trainer table's models still on this machine
    python -m benchmarks.studies.score_threshold_bench --model-dir var/bench/RUN/out/model --dataset bccd

`TFLite_Detection_PostProcess` suppresses in O(kept boxes x candidates), and the candidates are the anchors
whose best class scores at least the threshold: thousands on a BCCD image at 0.01. A box below the threshold
can still only add recall at the lowest confidences, so the question is how much latency a threshold saves
for how much mAP. The exports differ in that attribute only (same weights, same calibration images); the
latency rounds interleave them so that the machine's drift hits every threshold alike.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import git_info, machine_info
from benchmarks.report import RESULTS_DIR, save_record
from benchmarks.studies.postprocess_bench import ROUNDS, compare_exports, models_to_measure
from benchmarks.studies.trainer_reexport import export_package
from benchmarks.trainer_bench import default_data_root
from benchmarks.trainer_latency_bench import IMAGES, RUNS, THREADS

RESULTS = RESULTS_DIR / "score_threshold.jsonl"
THRESHOLDS = (0.01, 0.05, 0.1)


def compare_thresholds(model_dir: Path, dataset: str, data_root: Path, thresholds: list[float]) -> dict:
    with tempfile.TemporaryDirectory(prefix="score-threshold-") as tmp:
        packages = {f"{t:g}": export_package(model_dir, Path(tmp) / f"package-{t:g}", t) for t in thresholds}
        measured = compare_exports(packages, dataset, data_root)
    return {"entries": [{"threshold": t, **measured[f"{t:g}"]} for t in thresholds]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.studies.score_threshold_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model-dir", type=Path, help="a trained model directory (out/model of a bench run)")
    parser.add_argument(
        "--dataset", help="the dataset under --data-root whose TEST rows to use (with --model-dir)"
    )
    parser.add_argument("--model-type", default="", help="what --model-dir is, for the report")
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(THRESHOLDS))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    models = models_to_measure(parser, args)
    if not models:
        print("no trained model directory here: pass --model-dir and --dataset", file=sys.stderr)
        return 1
    for model_dir, dataset, model_type, trained in models:
        record = {
            "bench": "score_threshold",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "git": git_info(),
            "dataset": dataset,
            "model_type": model_type,
            "trained": trained,
            "model_dir": str(model_dir),
            "protocol": {"threads": THREADS, "images": IMAGES, "rounds": ROUNDS, "runs": RUNS},
            **compare_thresholds(model_dir, dataset, args.data_root, args.thresholds),
        }
        save_record(args.results, record)
        for e in record["entries"]:
            print(
                f"{dataset} {model_type} {e['threshold']:g}: {e['map50']:.4f} {e['median_ms']} ms", flush=True
            )
    return 0


def render_markdown(records: list[dict[str, Any]]) -> str:
    """BENCHMARKS.md section: every comparison, newest first."""
    p = records[-1]["protocol"]
    lines = [
        "## Trainer: NMS score threshold (same weights, exported at each threshold)",
        "",
        f"TEST mAP of each export, and its int8 latency at {p['threads']} threads on the dataset's first "
        f"{p['images']} TEST images ({p['rounds']} rounds of {p['runs']} invokes, the thresholds in "
        "alternation; median of the round medians, fastest–slowest round).",
        "",
        "| measured | cpu | dataset | model | threshold | mAP@0.5 | mAP@[.5:.95] | latency | rounds "
        "| entries per image | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reversed(records):
        model = r["model_type"] or Path(r["model_dir"]).name
        for e in r["entries"]:
            lines.append(
                f"| {r['started'][:16]} | {r['machine']['cpu_model']} | {r['dataset']} | {model} "
                f"| {e['threshold']:g} | {e['map50']:.4f} | {e['map50_95']:.4f} | {e['median_ms']:.1f} ms "
                f"| {min(e['rounds_ms']):.1f}–{max(e['rounds_ms']):.1f} | {e['entries_per_image']:g} "
                f"| {(r['git'].get('commit') or '')[:7]} |"
            )
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    sys.exit(main())
