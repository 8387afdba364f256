"""How much of the gap to the peer (issue 31) is the metric: the same predictions of one of our int8 TF Lite
packages scored by our evaluation (pycocotools, edgetrain_trainer/evaluation.py) and by Ultralytics'.

    .venv/bin/python -m benchmarks.studies.peer_metric dump PACKAGE_DIR preds.json      # product venv
    /work/peer-venv/bin/python -m benchmarks.studies.peer_metric score preds.json       # peer venv

`dump` runs the package's model.tflite with the deployable runner (TFLiteDetector) on the TEST rows of the
dataset its benchmark record names (benchmarks/results/trainer.jsonl; `--dataset DIR` otherwise) and writes
per-image ground truth and predictions (pixels, x1 y1 x2 y2, dataset class ids), our mAP@0.5 / mAP@[.5:.95]
as evaluation.evaluate computes them, the recorded figures and the post-processing the predictions had.
`score` feeds those images through Ultralytics' own DetectionValidator.update_metrics (its _process_batch /
match_predictions and box_iou) and DetMetrics.process (ap_per_class). Both modes first score the ground truth
given as predictions (score 1) on the same images: 1.0 in ours, 0.995 in Ultralytics' (its ceiling).

The peer environment (benchmarks/studies/peer_metric_requirements.txt) is AGPL, optional and for this
measurement only; `score` imports ultralytics, torch and numpy, never the product.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

# Ultralytics' AP of perfect predictions: compute_ap integrates its 101-point curve by the trapezoid rule and
# the curve's last point (recall 1.0) takes the sentinel precision 0: the last 0.01 of recall counts half.
ULTRALYTICS_PERFECT = 0.995


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.studies.peer_metric", description=__doc__.splitlines()[0]
    )
    modes = parser.add_subparsers(dest="mode", required=True)
    dump = modes.add_parser("dump", help="predictions of a package on TEST, with our metric (product venv)")
    dump.add_argument("package", type=Path, help="a package directory with model.tflite and dict.txt")
    dump.add_argument("out", type=Path, help="the JSON to write")
    dump.add_argument(
        "--dataset", type=Path, help="dataset directory (annotations.csv); default: the record's"
    )
    score = modes.add_parser("score", help="Ultralytics' metric on a dump's predictions (peer venv)")
    score.add_argument("dump", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.mode == "dump":
        record = dump(args.package, args.out, args.dataset)
        print(json.dumps({k: v for k, v in record.items() if k != "images"}, indent=1))
    else:
        print(json.dumps(score(json.loads(args.dump.read_text())), indent=1))
    return 0


def dump(package: Path, out: Path, dataset: Path | None) -> dict[str, Any]:
    from benchmarks.report import read_records
    from benchmarks.trainer_bench import RESULTS, default_data_root, in_dataset_classes
    from edgetrain_trainer.data.dataset import load_dataset
    from edgetrain_trainer.data.images import load_rgb
    from edgetrain_trainer.data.rows import TEST
    from edgetrain_trainer.evaluation import evaluate
    from edgetrain_trainer.export.tflite_detector import TFLiteDetector
    from edgetrain_trainer.model.postprocess import PostProcessConfig

    package = package.resolve()
    recorded = next((r for r in read_records(RESULTS) if r.get("package_dir") == str(package)), None)
    if dataset is None:
        if recorded is None:
            raise SystemExit(f"no record in {RESULTS} has package_dir {package}: pass --dataset")
        dataset = default_data_root() / recorded["dataset"]
    full = load_dataset(dataset / "annotations.csv")
    test = full.split(TEST)
    detector = TFLiteDetector(package, num_threads=2)
    found = [detector.detect(load_rgb(e.image_path)) for e in test]
    predictions = in_dataset_classes(found, detector.labels, full.labels)
    ours = evaluate(test, full.labels, predictions)
    perfect = [
        (
            [(b.ymin, b.xmin, b.ymax, b.xmax) for b in e.boxes],
            [b.class_id for b in e.boxes],
            [1.0] * len(e.boxes),
        )
        for e in test
    ]
    sanity = evaluate(test, full.labels, perfect)
    if (sanity.map50, sanity.map50_95) != (1.0, 1.0):
        raise SystemExit(
            f"sanity check failed: ground truth as predictions scores {sanity.map50}, {sanity.map50_95}"
        )
    post = PostProcessConfig.from_trainer_config(recorded["trainer_config"] if recorded else {})
    record = {
        "package": str(package),
        "dataset": str(dataset),
        "labels": full.labels,
        "postprocess": {
            "op": "TFLite_Detection_PostProcess",
            "nms": "regular (per class)" if post.use_regular_nms else "fast (class-agnostic)",
            "score_threshold": post.nms_score_threshold,
            "iou_threshold": post.nms_iou_threshold,
            "max_detections": post.max_detections,
            "classes_per_box": detector.classes_per_box,
        },
        "ours": {"map50": ours.map50, "map50_95": ours.map50_95},
        "recorded": {k: recorded[k] for k in ("map50", "map50_95", "seed", "started")} if recorded else None,
        "images": [_image(e, p) for e, p in zip(test, predictions, strict=True)],
    }
    out.write_text(json.dumps(record), encoding="utf-8")
    return record


def _image(example, prediction) -> dict[str, Any]:
    """One TEST image in pixels, x1 y1 x2 y2 (the frame both metrics' IoU is computed in)."""
    w, h = example.width, example.height
    boxes, classes, scores = prediction
    return {
        "image": example.image_ref,
        "width": w,
        "height": h,
        "gt_boxes": [[b.xmin * w, b.ymin * h, b.xmax * w, b.ymax * h] for b in example.boxes],
        "gt_classes": [b.class_id for b in example.boxes],
        "boxes": [[float(x1) * w, float(y1) * h, float(x2) * w, float(y2) * h] for y1, x1, y2, x2 in boxes],
        "classes": [int(c) for c in classes],
        "scores": [float(s) for s in scores],
    }


def score(dumped: dict[str, Any]) -> dict[str, Any]:
    """Ultralytics' mAP50 / mAP50-95 of the dump's predictions, and ours from the dump beside them."""
    images = dumped["images"]
    as_predictions = [
        {**im, "boxes": im["gt_boxes"], "classes": im["gt_classes"], "scores": [1.0] * len(im["gt_classes"])}
        for im in images
    ]
    sanity = _ultralytics_map(as_predictions, dumped["labels"])
    if any(abs(v - ULTRALYTICS_PERFECT) > 1e-9 for v in sanity):
        raise SystemExit(
            f"sanity check failed: ground truth as predictions scores {sanity} in Ultralytics' metric"
        )
    map50, map50_95 = _ultralytics_map(images, dumped["labels"])
    ours = dumped["ours"]
    return {
        "package": dumped["package"],
        "postprocess": dumped["postprocess"],
        "ours_pycocotools": ours,
        "ultralytics": {"map50": map50, "map50_95": map50_95},
        "ultralytics_minus_ours": {
            "map50": round(map50 - ours["map50"], 4),
            "map50_95": round(map50_95 - ours["map50_95"], 4),
        },
        "sanity_ground_truth_as_predictions": {"map50": sanity[0], "map50_95": sanity[1]},
    }


def _ultralytics_map(images: list[dict[str, Any]], labels: list[str]) -> tuple[float, float]:
    """(mAP50, mAP50-95) from a DetectionValidator fed one image per batch, as its validation loop does after
    NMS: update_metrics (ground truth scaled from normalized xywh to the batch image's size, then
    _process_batch) and get_stats (DetMetrics.process → ap_per_class). The batch image is the original size
    with no letterbox, so the boxes are compared in the original pixels (IoU does not change under the
    validator's uniform letterbox scaling)."""
    os.environ.setdefault("YOLO_OFFLINE", "true")  # no update or telemetry calls: nothing here needs them
    import torch
    from ultralytics.models.yolo.detect import DetectionValidator

    with tempfile.TemporaryDirectory() as save_dir:
        validator = DetectionValidator(save_dir=Path(save_dir), args={"plots": False, "save_json": False})
        validator.device = torch.device("cpu")
        validator.seen = 0
        validator.metrics.names = dict(enumerate(labels))
        for im in images:
            w, h = im["width"], im["height"]
            gt = torch.tensor(im["gt_boxes"], dtype=torch.float32).reshape(-1, 4)
            xywh = torch.stack(
                [
                    (gt[:, 0] + gt[:, 2]) / 2 / w,
                    (gt[:, 1] + gt[:, 3]) / 2 / h,
                    (gt[:, 2] - gt[:, 0]) / w,
                    (gt[:, 3] - gt[:, 1]) / h,
                ],
                dim=1,
            )
            batch = {
                "batch_idx": torch.zeros(len(gt)),
                "cls": torch.tensor(im["gt_classes"], dtype=torch.float32).reshape(-1, 1),
                "bboxes": xywh,
                "ori_shape": [(h, w)],
                "img": torch.empty(1, 0, h, w),  # only its shape is read: the frame the boxes are scaled to
                "ratio_pad": [((1.0, 1.0), (0.0, 0.0))],
                "im_file": [im["image"]],
            }
            pred = {
                "bboxes": torch.tensor(im["boxes"], dtype=torch.float32).reshape(-1, 4),
                "conf": torch.tensor(im["scores"], dtype=torch.float32),
                "cls": torch.tensor(im["classes"], dtype=torch.float32),
            }
            validator.update_metrics([pred], batch)
        validator.get_stats()
        counted = int(validator.metrics.nt_per_class.sum())
        if counted != sum(len(im["gt_classes"]) for im in images) or validator.seen != len(images):
            raise SystemExit(f"Ultralytics saw {validator.seen} images and {counted} boxes, not the dump's")
        box = validator.metrics.box
        return float(box.map50), float(box.map)


if __name__ == "__main__":
    sys.exit(main())
