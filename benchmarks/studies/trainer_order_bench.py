"""Order in mAP, with its uncertainty: a paired bootstrap over the TEST images of the packages the trainer
table shows.

    python -m benchmarks.studies.trainer_order_bench      # after trainer_bench has trained the packages

The TEST sets are small (BCCD 72 images, cards 67), so a model's TEST mAP@0.5 moves with the choice of images.
Per dataset, each type's package (the trainer table's headline run) detects the TEST images once; then DRAWS
resamples of those images (with replacement, seeded) are scored with bootstrap.map50_of_draws. The three types
are scored on the same resamples, so their differences are paired. The record keeps per type the TEST figure
and its 95 % range over the resamples, and per neighbouring pair the share of resamples where the larger type
scores higher and the 95 % range of the difference; also the share where all three are strictly ordered. That
measures the spread from the choice of test images only; training with another seed moves the figures as well.
So the same comparison is made of each type's mean over the trainings of its headline group
(trainer_report.seed_groups: the default recipe at the same budget and time cap, any seed), on the same
resamples. Last, each label's AP@0.5 per type, averaged over those trainings, with the label's TEST boxes:
where the types differ, and which labels cap every type alike. Packages whose folder is gone are listed as
skipped; a dataset that lacks one of its three headline packages is not compared, and the report shows its
last complete comparison instead."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.machine import git_info, machine_info
from benchmarks.report import RESULTS_DIR, measured_on, newest_covering, read_records, save_record
from benchmarks.trainer_bench import default_data_root, in_dataset_classes
from benchmarks.trainer_report import headline_groups
from edgetrain_trainer.types import MODEL_TYPES

RESULTS = RESULTS_DIR / "trainer_order.jsonl"
TRAINER_RESULTS = RESULTS_DIR / "trainer.jsonl"
DRAWS, SEED = 2000, 0


def detections_on_test(package_dir: Path, test: list, labels: list[str]) -> list:
    """The package's detections on each TEST example, class ids (dict.txt lines) mapped to the dataset's
    labels."""
    from edgetrain_trainer.data.images import load_rgb
    from edgetrain_trainer.export.tflite_detector import TFLiteDetector

    detector = TFLiteDetector(package_dir, num_threads=2)
    return in_dataset_classes(
        [detector.detect(load_rgb(e.image_path)) for e in test], detector.labels, labels
    )


def compare(scores: dict[str, np.ndarray], on_test: dict[str, float]) -> dict[str, Any]:
    """Per type its TEST figure and 95 % range; per neighbouring pair of types how often and by how much
    the larger one leads; how often all three are strictly ordered. `scores`: mAP@0.5 per resample, the
    same resamples for every type."""
    out: dict[str, Any] = {
        "types": {
            t: {"map50": round(on_test[t], 4), "range95": _range95(scores[t])}
            for t in MODEL_TYPES
            if t in scores
        },
        "pairs": [],
    }
    present = [t for t in MODEL_TYPES if t in scores]
    for lower, upper in itertools.pairwise(present):
        gap = scores[upper] - scores[lower]
        out["pairs"].append(
            {
                "lower": lower,
                "upper": upper,
                "gap_on_test": round(on_test[upper] - on_test[lower], 4),
                "gap_range95": _range95(gap),
                "upper_higher_share": round(float((gap > 0).mean()), 4),
            }
        )
    if len(present) == len(MODEL_TYPES):
        stacked = np.stack([scores[t] for t in MODEL_TYPES])
        out["strictly_ordered_share"] = round(float((np.diff(stacked, axis=0) > 0).all(axis=0).mean()), 4)
    return out


def compare_seed_means(scored: dict[str, list[tuple[dict[str, Any], float, np.ndarray]]]) -> dict[str, Any]:
    """compare() of each type's mean over its trainings: `scored` holds per type (run record, TEST mAP@0.5,
    mAP@0.5 per resample) for each training, the same resamples for all."""
    means = compare(
        {t: np.mean([s[2] for s in runs], axis=0) for t, runs in scored.items()},
        {t: float(np.mean([s[1] for s in runs])) for t, runs in scored.items()},
    )
    means["trainings"] = {t: [_package(*s[:2]) for s in runs] for t, runs in scored.items()}
    return means


def mean_label_ap(
    label_ap: dict[str, list[dict[str, float]]], test: list, labels: list[str]
) -> dict[str, Any]:
    """Per label its TEST boxes and, per type, its AP@0.5 averaged over the type's trainings: where the
    types differ, and which labels cap every type alike."""
    boxes = Counter(labels[b.class_id] for e in test for b in e.boxes)
    return {
        "boxes": {label: boxes[label] for label in labels},
        "types": {
            t: {label: round(float(np.mean([r[label] for r in runs])), 4) for label in labels}
            for t, runs in label_ap.items()
        },
    }


def _package(run: dict[str, Any], map50: float) -> dict[str, Any]:
    return {
        "trained": run["started"],
        "commit": (run["git"].get("commit") or "")[:7],
        "seed": run.get("seed", 0),
        "map50": round(map50, 4),
    }


def _range95(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])]


def _pairs_table(d: dict[str, Any]) -> list[str]:
    lines = [
        "| pair | gap on TEST | gap range | resamples where the larger type leads |",
        "|---|---|---|---|",
    ]
    for pair in d["pairs"]:
        lines.append(
            f"| {pair['lower']} → {pair['upper']} | {pair['gap_on_test']:+.3f} "
            f"| {pair['gap_range95'][0]:+.3f} to {pair['gap_range95'][1]:+.3f} "
            f"| {100 * pair['upper_higher_share']:.0f} % |"
        )
    if "strictly_ordered_share" in d:
        lines += [
            "",
            f"All three strictly ordered in {100 * d['strictly_ordered_share']:.0f} % of the resamples.",
        ]
    return lines


def _per_label_table(per_label: dict[str, Any]) -> list[str]:
    types = list(per_label["types"])
    lines = [
        "AP@0.5 per label on TEST, mean over each type's trainings:",
        "",
        "| label | TEST boxes | " + " | ".join(types) + " |",
        "|---|---|" + "---|" * len(types),
    ]
    for label, boxes in per_label["boxes"].items():
        cells = " | ".join(f"{per_label['types'][t][label]:.3f}" for t in types)
        lines.append(f"| {label} | {boxes} | {cells} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.studies.trainer_order_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--trainer-results", type=Path, default=TRAINER_RESULTS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--draws", type=int, default=DRAWS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    from benchmarks.studies.bootstrap import map50_of_draws
    from edgetrain_trainer.data.dataset import load_dataset
    from edgetrain_trainer.data.rows import TEST
    from edgetrain_trainer.evaluation import evaluate

    record: dict[str, Any] = {
        "bench": "trainer_order",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git_info(),
        "draws": args.draws,
        "seed": SEED,
        "datasets": {},
        "skipped": [],
    }
    trainer_records = read_records(args.trainer_results) if args.trainer_results.exists() else []
    for dataset, by_type in headline_groups(trainer_records).items():
        full = load_dataset(args.data_root / dataset / "annotations.csv")
        test = full.split(TEST)
        draws = np.random.default_rng(SEED).integers(0, len(test), (args.draws, len(test)))
        # per type, each training of its headline group whose package is still there: (run, TEST
        # figure, figures on the resamples); the last is the headline run
        scored: dict[str, list[tuple[dict[str, Any], float, np.ndarray]]] = {}
        label_ap: dict[str, list[dict[str, float]]] = {}  # per type, each training's AP@0.5 by label
        for model_type, runs in by_type.items():
            for run in runs:
                package = Path(run["package_dir"])
                if not (package / "model.tflite").is_file():
                    record["skipped"].append(
                        {"dataset": dataset, "model_type": model_type, "reason": f"{package} is gone"}
                    )
                    continue
                predictions = detections_on_test(package, test, full.labels)
                figures = map50_of_draws(test, full.labels, predictions, draws)
                evaluation = evaluate(test, full.labels, predictions)
                scored.setdefault(model_type, []).append((run, evaluation.map50, figures))
                label_ap.setdefault(model_type, []).append(evaluation.label_map50())
        headline = {t: runs[-1] for t, runs in scored.items() if runs[-1][0] is by_type[t][-1]}
        # the order is a claim about the table's three packages: without one of them, the dataset keeps
        # its last complete comparison (render_markdown)
        if headline.keys() == by_type.keys() == set(MODEL_TYPES):
            result = compare({t: h[2] for t, h in headline.items()}, {t: h[1] for t, h in headline.items()})
            means = compare_seed_means(scored)
            packages = {t: _package(*h[:2]) for t, h in headline.items()}
            record["datasets"][dataset] = {
                "test_images": len(test),
                "packages": packages,
                **result,
                "seed_mean": means,
                "per_label": mean_label_ap(label_ap, test, full.labels),
            }
            print(f"{dataset}: {result}\nmean over seeds: {means}", flush=True)
    if not record["datasets"]:
        print("no trained packages to compare: run benchmarks.trainer_bench first", file=sys.stderr)
        return 1
    save_record(args.results, record)
    return 0


def render_markdown(records: list[dict[str, Any]]) -> str:
    """BENCHMARKS.md section: the latest comparison, one table per dataset. A dataset it could not compare
    (a headline package gone: another machine, a cleaned work dir) keeps its last complete comparison,
    with when and at which commit that was measured."""
    latest = records[-1]
    lines = [
        "## Trainer: order in mAP, paired bootstrap over TEST images",
        "",
        "The packages of the trainer table, each run once on its dataset's TEST images; then "
        f"{latest['draws']} resamples of those images (with replacement, the same for the three types) "
        "scored with COCOeval. range: 2.5–97.5 % of the resamples. It shows how much the choice of test "
        "images alone moves each figure and each gap; the training seed moves them too, which the mean "
        "over each type's seeds (second table per dataset) averages out as far as the seeds trained go.",
        "",
    ]
    for dataset, d in latest["datasets"].items():
        lines += _dataset_section(dataset, d)
    skipped = [f"- skipped {s['dataset']} {s['model_type']}: {s['reason']}" for s in latest["skipped"]]
    lines += [*skipped, *([""] if skipped else []), _measured(latest), ""]
    missing = [
        d for d in dict.fromkeys(s["dataset"] for s in latest["skipped"]) if d not in latest["datasets"]
    ]
    for dataset, earlier in newest_covering(records[:-1], missing, _complete_datasets):
        lines += [
            f"{dataset}, its last comparison with all three headline packages (they are gone since; "
            "the trainer table's headline runs may be newer):",
            "",
            *_dataset_section(dataset, earlier["datasets"][dataset]),
            _measured(earlier),
            "",
        ]
    return "\n".join(lines)


def _dataset_section(dataset: str, d: dict[str, Any]) -> list[str]:
    lines = [
        f"**{dataset}** ({d['test_images']} TEST images)",
        "",
        "| model type | TEST mAP@0.5 | range | trained | commit | seed |",
        "|---|---|---|---|---|---|",
    ]
    for model_type, t in d["types"].items():
        p = d["packages"][model_type]
        lines.append(
            f"| {model_type} | {t['map50']:.3f} | {t['range95'][0]:.3f}–{t['range95'][1]:.3f} "
            f"| {p['trained'][:16]} | {p['commit']} | {p['seed']} |"
        )
    lines += ["", *_pairs_table(d)]
    means = d.get("seed_mean")
    if means:
        lines += [
            "",
            "Mean over seeds: each type's figure is the mean of every default-recipe training of its "
            "headline group (same budget and time cap), on the same resamples.",
            "",
            "| model type | trainings: seed TEST mAP@0.5 | mean | range |",
            "|---|---|---|---|",
        ]
        for model_type, t in means["types"].items():
            runs = ", ".join(f"{p['seed']}: {p['map50']:.3f}" for p in means["trainings"][model_type])
            lines.append(
                f"| {model_type} | {runs} | {t['map50']:.3f} | {t['range95'][0]:.3f}–{t['range95'][1]:.3f} |"
            )
        lines += ["", *_pairs_table(means)]
    if d.get("per_label"):
        lines += ["", *_per_label_table(d["per_label"])]
    return [*lines, ""]


def _measured(record: dict[str, Any]) -> str:
    return measured_on(record) + "."


def _complete_datasets(record: dict[str, Any]) -> list[str]:
    return [dataset for dataset, d in record["datasets"].items() if len(d["types"]) == len(MODEL_TYPES)]


if __name__ == "__main__":
    sys.exit(main())
