"""The retraining benchmark's pure parts: which rows each round brings, the figures read from the pipeline's
evaluation summaries, and the warm-start target (benchmarks/retrain_bench.py runs them)."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

FRACTIONS = (0.4, 0.7, 1.0)
COCO_IOUS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def split_rounds(
    rows: list[list[str]], fractions: tuple[float, ...] = FRACTIONS, seed: int = 29
) -> list[list[list[str]]]:
    """The rows each round delivers. TRAIN images are shuffled with `seed`; round k brings the TRAIN images
    from fraction k-1 to k of them (an image's rows together); round 1 also brings every other row."""
    if (
        not fractions
        or fractions[-1] != 1.0
        or any(b <= a for a, b in zip((0.0, *fractions[:-1]), fractions, strict=True))
    ):
        raise ValueError(f"fractions {fractions}: must rise above 0 and end at 1.0")
    train = sorted({row[1] for row in rows if row[0] == "TRAIN"})
    random.Random(seed).shuffle(train)
    ends = [round(f * len(train)) for f in fractions]
    round_of = {image: next(k for k, end in enumerate(ends) if i < end) for i, image in enumerate(train)}
    rounds: list[list[list[str]]] = [[] for _ in fractions]
    for row in rows:
        rounds[round_of[row[1]] if row[0] == "TRAIN" else 0].append(row)
    return rounds


def subsample(rows: list[list[str]], per_split: int, seed: int = 29) -> list[list[str]]:
    """The rows of `per_split` seeded images of each ML_USE (a smoke run)."""
    kept: set[tuple[str, str]] = set()
    for use in sorted({row[0] for row in rows}):
        images = sorted({row[1] for row in rows if row[0] == use})
        kept |= {(use, image) for image in random.Random(seed).sample(images, min(per_split, len(images)))}
    return [row for row in rows if (row[0], row[1]) in kept]


def write_csv(rows: list[list[str]], path: Path, image_root: Path) -> Path:
    """The rows as an AutoML import CSV with absolute image paths (the service reads them from image_root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([row[0], str(image_root / row[1]), *row[2:]] for row in rows)
    return path


def map_at(summary: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """(mAP@0.5, mAP@[.5:.95]) of a pipeline evaluation summary. The service's boundingBoxMeanAveragePrecision
    averages 23 IoU thresholds (0.05-0.99), so COCO's mAP@[.5:.95] is taken from the per-IoU curves, or
    else from the per-label ap5095."""
    if not summary:
        return None, None
    ap = {round(c["iouThreshold"], 2): c["meanAveragePrecision"] for c in summary.get("curves") or []}
    if all(iou in ap for iou in COCO_IOUS):
        coco = sum(ap[iou] for iou in COCO_IOUS) / len(COCO_IOUS)
    else:
        labels = [p["ap5095"] for p in summary.get("perLabel") or [] if p.get("ap5095") is not None]
        coco = sum(labels) / len(labels) if labels else None
    return summary.get("meanAveragePrecisionAt50"), coco


def target(rounds: list[dict[str, Any]], cold: dict[str, Any] | None) -> dict[str, Any]:
    """Did the last round, warm-started with at most a third of the cold reference's training time, end
    with a TEST mAP@0.5 no lower than the reference's? basis: caps, or walls when the reference converged."""
    warm = rounds[-1] if rounds else None
    if warm is None or cold is None or warm.get("map50") is None or cold.get("map50") is None:
        return {"met": None, "why": "the run did not finish"}
    if warm.get("start") != "warm":
        return {"met": False, "why": "the last round was not warm-started"}
    if cold.get("stop_reason") == "MODEL_CONVERGED":
        basis, time_ok = "walls", warm["train_wall_s"] * 3 <= cold["train_wall_s"]
    else:
        basis, time_ok = "caps", warm["max_train_seconds"] * 3 <= cold["max_train_seconds"]
    map_ok = warm["map50"] >= cold["map50"]
    why = []
    if not time_ok:
        why.append(f"more than a third of the cold run's time ({basis})")
    if not map_ok:
        why.append(f"TEST mAP@0.5 {warm['map50']:.3f} below the cold run's {cold['map50']:.3f}")
    return {"met": time_ok and map_ok, "basis": basis, "why": "; ".join(why) or "met"}
