"""What the status page shows of a trained model beyond its metrics: where it confuses labels and what it
draws on real TEST images. Written next to the evaluation, into the TF Lite package, so the export copies it.

    write_diagnostics(package_dir / "diagnostics", examples, labels, predictions)

Writes `diagnostics.json` and `sample-<n>.jpg` (TEST images scaled to at most SAMPLE_MAX_SIDE px, without
drawing: the page draws the boxes from the JSON):
- confusion: at IoU CONFUSION_IOU and score ≥ SCORE_THRESHOLD (AutoML's Predict default), every ground-truth
  box matched class-agnostically (greedy by score) to at most one detection: rows are the true label,
  columns the predicted one; the extra last row and column, BACKGROUND, count detections that matched no box
  (false positives) and boxes no detection matched (misses).
- samples: the SAMPLES_EACH images the model does worst on and the SAMPLES_EACH it does best on, scored by
  correct / (boxes + detections − correct) at that IoU and score (1.0: every box found, nothing extra).
  Boxes are (xmin, ymin, xmax, ymax), normalized 0–1.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data.dataset import Example
from .data.images import load_rgb

SCORE_THRESHOLD = 0.5
CONFUSION_IOU = 0.5
SAMPLES_EACH = 3
SAMPLE_MAX_SIDE = 480
MAX_SAMPLE_BOXES = 50  # predicted boxes kept per sample image (highest scores)
BACKGROUND = "background"
FILE_NAME = "diagnostics.json"


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU [A, B] of boxes (ymin, xmin, ymax, xmax)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    y0, x0 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    y1, x1 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(y1 - y0, 0, None) * np.clip(x1 - x0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def _match(truth: np.ndarray, found: np.ndarray) -> list[tuple[int | None, int | None]]:
    """(truth index, detection index) pairs, class-agnostic, detections taken by descending score (found is
    already in that order); unmatched ones pair with None."""
    overlap = _iou(found, truth)
    taken: set[int] = set()
    pairs: list[tuple[int | None, int | None]] = []
    for d in range(len(found)):
        candidates = [(overlap[d, t], t) for t in range(len(truth)) if t not in taken]
        best = max(candidates, default=(0.0, -1))
        if best[0] >= CONFUSION_IOU:
            taken.add(best[1])
            pairs.append((best[1], d))
        else:
            pairs.append((None, d))
    pairs += [(t, None) for t in range(len(truth)) if t not in taken]
    return pairs


def _kept(prediction: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes, classes, scores = (np.asarray(p, np.float64) for p in prediction)
    boxes, classes, scores = (
        boxes.reshape(-1, 4),
        np.rint(classes.reshape(-1)).astype(int),
        scores.reshape(-1),
    )
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] >= SCORE_THRESHOLD]
    return boxes[order], classes[order], scores[order]


def _xyxy(box: Sequence[float]) -> list[float]:
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    return [round(xmin, 4), round(ymin, 4), round(xmax, 4), round(ymax, 4)]


def diagnose(
    examples: Sequence[Example], labels: Sequence[str], predictions: Sequence[Any]
) -> tuple[list[list[int]], list[float]]:
    """(confusion matrix [(K+1) × (K+1)], one score per example) — see the module docstring."""
    k = len(labels)
    confusion = np.zeros((k + 1, k + 1), np.int64)
    image_scores = []
    for example, prediction in zip(examples, predictions, strict=True):
        truth = example.boxes_yxyx().astype(np.float64)
        truth_classes = [b.class_id for b in example.boxes]
        boxes, classes, _ = _kept(prediction)
        correct = 0
        for t, d in _match(truth, boxes):
            row = truth_classes[t] if t is not None else k
            col = int(classes[d]) if d is not None else k
            confusion[row, col] += 1
            correct += int(t is not None and d is not None and row == col)
        total = len(truth) + len(boxes) - correct
        image_scores.append(correct / total if total else 1.0)
    return confusion.tolist(), image_scores


def _sample(
    example: Example, prediction: Any, labels: Sequence[str], kind: str, score: float, n: int
) -> dict:
    boxes, classes, scores = _kept(prediction)
    return {
        "file": f"sample-{n}.jpg",
        "image": example.image_ref,
        "kind": kind,
        "score": round(score, 4),
        "truth": [
            {"label": labels[b.class_id], "box": _xyxy((b.ymin, b.xmin, b.ymax, b.xmax))}
            for b in example.boxes
        ],
        "predicted": [
            {"label": labels[int(c)], "score": round(float(s), 3), "box": _xyxy(b)}
            for b, c, s in list(zip(boxes, classes, scores, strict=True))[:MAX_SAMPLE_BOXES]
        ],
    }


def write_diagnostics(
    out_dir: Path, examples: Sequence[Example], labels: Sequence[str], predictions: Sequence[Any]
) -> dict[str, Any]:
    """Compute and write the diagnostics of one evaluation; returns what diagnostics.json holds.
    predictions: one (boxes [N, 4] yxyx normalized, classes [N], scores [N]) per example."""
    confusion, image_scores = diagnose(examples, labels, predictions)
    order = sorted(range(len(examples)), key=lambda i: (image_scores[i], examples[i].image_ref))
    worst = order[:SAMPLES_EACH]
    best = [i for i in reversed(order) if i not in worst][:SAMPLES_EACH]
    out_dir.mkdir(parents=True, exist_ok=True)
    samples: list[dict[str, Any]] = []
    for kind, chosen in (("worst", worst), ("best", best)):
        for i in chosen:
            n = len(samples)
            picture = load_rgb(examples[i].image_path)
            picture.thumbnail((SAMPLE_MAX_SIDE, SAMPLE_MAX_SIDE))
            picture.save(out_dir / f"sample-{n}.jpg", "JPEG", quality=85)
            entry = _sample(examples[i], predictions[i], labels, kind, image_scores[i], n)
            samples.append(entry | {"width": picture.width, "height": picture.height})
    payload = {
        "scoreThreshold": SCORE_THRESHOLD,
        "iouThreshold": CONFUSION_IOU,
        "labels": list(labels),
        "background": BACKGROUND,
        "confusion": confusion,
        "imageCount": len(examples),
        "samples": samples,
    }
    (out_dir / FILE_NAME).write_text(json.dumps(payload, indent=1))
    return payload
