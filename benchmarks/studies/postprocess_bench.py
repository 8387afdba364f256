"""What the exported post-processing settings buy: one trained model exported with several
`TFLite_Detection_PostProcess` settings (NMS IoU threshold, detections kept, regular vs fast NMS), each
export's TEST mAP and its int8 latency at 2 threads, timed in alternation.

    python -m benchmarks.studies.postprocess_bench      # the trainer table's models still on this machine
    python -m benchmarks.studies.postprocess_bench --model-dir var/bench/RUN/out/model --dataset bccd \
        --variant '{"nms_iou_threshold": 0.6}' --variant '{"use_regular_nms": true}'

A variant names PostProcessConfig fields to change from the model's own settings (the first entry, always
measured). The exports share the weights and the calibration images, so int8 quantizes them alike and
only the op's attributes differ; the latency rounds interleave the exports so that the machine's drift
hits every variant alike. mAP@[.5:.95] on crowded images (BCCD's overlapping cells) is where NMS settings
matter: a kept box suppresses its neighbours above the IoU threshold whether or not they are duplicates.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import git_info, machine_info
from benchmarks.report import RESULTS_DIR, read_records, save_record
from benchmarks.trainer_bench import default_data_root, evaluate_package
from benchmarks.trainer_latency_bench import IMAGES, RUNS, THREADS, test_image_paths
from benchmarks.trainer_report import latest_packages

RESULTS = RESULTS_DIR / "postprocess.jsonl"
VARIANTS: tuple[dict[str, Any], ...] = (
    {"nms_iou_threshold": 0.6},
    {"nms_iou_threshold": 0.7},
    {"max_detections": 200},
    {"use_regular_nms": True},
)
ROUNDS = 5


def parse_variant(text: str) -> dict[str, Any]:
    """A --variant: a JSON object of PostProcessConfig fields, checked against the dataclass."""
    from edgetrain_trainer.model.postprocess import PostProcessConfig

    try:
        settings = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"--variant {text!r} is not JSON: {error}") from None
    known = {f.name for f in dataclasses.fields(PostProcessConfig)}
    if not isinstance(settings, dict) or not settings or set(settings) - known:
        raise argparse.ArgumentTypeError(
            f"--variant {text!r} must be a JSON object of PostProcessConfig fields: "
            + ", ".join(sorted(known))
        )
    return settings


def compare_exports(packages: dict[str, Path], dataset: str, data_root: Path) -> dict[str, dict[str, Any]]:
    """Per package (by name): TEST mAP@0.5 and mAP@[.5:.95], latency rounds at THREADS threads on the first
    IMAGES TEST images with the packages in alternation, their median, and the output entries per image."""
    from edgetrain_trainer.data.dataset import load_dataset
    from edgetrain_trainer.data.images import load_rgb
    from edgetrain_trainer.data.rows import TEST
    from edgetrain_trainer.export.tflite_detector import TFLiteDetector, latency_rounds

    full = load_dataset(data_root / dataset / "annotations.csv")
    test = full.split(TEST)
    images = [load_rgb(p) for p in test_image_paths(data_root, dataset)]
    out: dict[str, dict[str, Any]] = {}
    for name, package in packages.items():
        labels = (package / "dict.txt").read_text().splitlines()
        map50, map50_95, _ = evaluate_package(package, labels, test, full.labels)
        out[name] = {"map50": round(map50, 4), "map50_95": round(map50_95, 4)}
    detectors = {name: TFLiteDetector(p, num_threads=THREADS) for name, p in packages.items()}
    prepared = {name: [d.prepare(i) for i in images] for name, d in detectors.items()}
    timed = latency_rounds([(d, prepared[name]) for name, d in detectors.items()], ROUNDS, RUNS)
    for (name, entry), rounds in zip(out.items(), timed, strict=True):
        entry["rounds_ms"] = [round(ms, 2) for ms in rounds]
        entry["median_ms"] = round(statistics.median(entry["rounds_ms"]), 2)
        entry["entries_per_image"] = round(
            statistics.mean(len(detectors[name].detect(i).scores) for i in prepared[name]), 1
        )
    return out


def models_to_measure(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[tuple[Path, str, str, str]]:
    """(model dir, dataset, model type, when trained) of --model-dir, else of the trainer table's runs whose
    model directory is still on this machine."""
    if args.model_dir:
        if not args.dataset:
            parser.error("--model-dir needs --dataset")
        return [(args.model_dir, args.dataset, args.model_type, "")]
    trainer = RESULTS_DIR / "trainer.jsonl"
    runs = latest_packages(read_records(trainer)) if trainer.exists() else []
    models = [
        (Path(r["package_dir"]).parent / "model", r["dataset"], r["model_type"], r["started"]) for r in runs
    ]
    return [m for m in models if (m[0] / "trainer.json").is_file()]


def compare_variants(
    model_dir: Path, dataset: str, data_root: Path, variants: list[dict[str, Any]]
) -> dict[str, Any]:
    """The model's own post-processing, then each variant's, exported from the same weights and compared."""
    import numpy as np

    from edgetrain_trainer.export.package import load_model_dir, write_tflite_package
    from edgetrain_trainer.model.postprocess import PostProcessConfig

    model = load_model_dir(model_dir)
    own = PostProcessConfig.from_trainer_config(model.config)
    calibration = np.load(model_dir / "calibration.npy")
    configs = {"model's own": own} | {json.dumps(v): dataclasses.replace(own, **v) for v in variants}
    with tempfile.TemporaryDirectory(prefix="postprocess-") as tmp:
        packages = {}
        for i, (name, post) in enumerate(configs.items()):
            packages[name] = Path(tmp) / f"package-{i}"
            write_tflite_package(
                packages[name],
                model.detector,
                model.spec,
                model.labels,
                "int8",
                calibration,
                post,
                model.anchors,
            )
        measured = compare_exports(packages, dataset, data_root)
    entries = [
        {"variant": {} if i == 0 else variants[i - 1], "settings": dataclasses.asdict(post), **measured[name]}
        for i, (name, post) in enumerate(configs.items())
    ]
    return {"entries": entries}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.studies.postprocess_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model-dir", type=Path, help="a trained model directory (out/model of a bench run)")
    parser.add_argument(
        "--dataset", help="the dataset under --data-root whose TEST rows to use (with --model-dir)"
    )
    parser.add_argument("--model-type", default="", help="what --model-dir is, for the report")
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        help="JSON object of PostProcessConfig fields to change (repeatable; default: "
        + "; ".join(json.dumps(v) for v in VARIANTS)
        + ")",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    models = models_to_measure(parser, args)
    if not models:
        print("no trained model directory here: pass --model-dir and --dataset", file=sys.stderr)
        return 1
    for model_dir, dataset, model_type, trained in models:
        record = {
            "bench": "postprocess",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "git": git_info(),
            "dataset": dataset,
            "model_type": model_type,
            "trained": trained,
            "model_dir": str(model_dir),
            "protocol": {"threads": THREADS, "images": IMAGES, "rounds": ROUNDS, "runs": RUNS},
            **compare_variants(model_dir, dataset, args.data_root, args.variant or list(VARIANTS)),
        }
        record["machine_after"] = machine_info()
        save_record(args.results, record)
        for e in record["entries"]:
            print(
                f"{dataset} {json.dumps(e['variant']) if e['variant'] else 'own'}: {e['map50']:.4f} / "
                f"{e['map50_95']:.4f}, {e['median_ms']} ms, {e['entries_per_image']} entries",
                flush=True,
            )
    return 0


def render_markdown(records: list[dict[str, Any]]) -> str:
    """BENCHMARKS.md section: every comparison, newest first, each variant against the model's own."""
    p = records[-1]["protocol"]
    lines = [
        "## Trainer: post-processing settings (same weights, exported with each)",
        "",
        f"TEST mAP of each int8 export, and its latency at {p['threads']} threads on the dataset's first "
        f"{p['images']} TEST images ({p['rounds']} rounds of {p['runs']} invokes, the exports in "
        "alternation; median of the round medians, fastest–slowest round). The first row of each "
        "comparison is the model's own settings; the others change what the variant names "
        "(`benchmarks/studies/postprocess_bench.py`).",
        "",
        "| measured | cpu | load | dataset | model | variant | mAP@0.5 | mAP@[.5:.95] | latency | rounds "
        "| entries per image | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reversed(records):
        model = r["model_type"] or Path(r["model_dir"]).name
        load = f"{r['machine']['load_average_1m']:.1f}"
        if "machine_after" in r:
            load += f" → {r['machine_after']['load_average_1m']:.1f}"
        for e in r["entries"]:
            variant = ", ".join(f"{k} {v}" for k, v in e["variant"].items()) or _own(e["settings"])
            lines.append(
                f"| {r['started'][:16]} | {r['machine']['cpu_model']} | {load} | {r['dataset']} | {model} "
                f"| {variant} | {e['map50']:.4f} | {e['map50_95']:.4f} | {e['median_ms']:.1f} ms "
                f"| {min(e['rounds_ms']):.1f}–{max(e['rounds_ms']):.1f} | {e['entries_per_image']:g} "
                f"| {(r['git'].get('commit') or '')[:7]} |"
            )
    return "\n".join([*lines, ""])


def _own(settings: dict[str, Any]) -> str:
    nms = "regular" if settings["use_regular_nms"] else "fast"
    return (
        f"own: {nms} NMS, IoU {settings['nms_iou_threshold']:g}, {settings['max_detections']} detections, "
        f"score ≥ {settings['nms_score_threshold']:g}"
    )


if __name__ == "__main__":
    sys.exit(main())
