"""mAP@0.5 on bootstrap resamples of the TEST images, for the order study (trainer_order_bench.py).

It re-accumulates pycocotools' per-image matches of edgetrain_trainer.evaluation instead of evaluating each
resample from scratch, so it reaches into that module's private helpers; only this study needs it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence

import numpy as np

from edgetrain_trainer.data.dataset import Example
from edgetrain_trainer.evaluation import PredictionTriple, _accumulated_ap, _align, _matched


def map50_of_draws(
    examples: Sequence[Example],
    labels: Sequence[str],
    predictions: Sequence[PredictionTriple] | Mapping[str, PredictionTriple],
    draws: np.ndarray,
) -> np.ndarray:
    """mAP@0.5, as evaluate() computes it, on each draw of the images: `draws` holds one row of indices
    into `examples` per draw (repeats allowed: a bootstrap resample). Detections are matched to ground truth
    once per image; a draw only re-accumulates those per-image matches, so a thousand draws take seconds."""
    coco_eval = _matched(examples, labels, _align(examples, predictions), (0.5,))
    per_image, pe = coco_eval.evalImgs, coco_eval._paramsEval  # [class][image] order; the ids it indexes
    images = len(pe.imgIds)
    out = np.zeros(len(draws))
    with contextlib.redirect_stdout(io.StringIO()):
        for d, draw in enumerate(np.asarray(draws, np.int64)):
            # accumulate() reads evalImgs by position in params.imgIds: give the draw's images new positions
            coco_eval.evalImgs = [per_image[k * images + i] for k in range(len(pe.catIds)) for i in draw]
            coco_eval.params.imgIds = pe.imgIds = list(range(len(draw)))
            coco_eval.accumulate()
            ap, has_gt = _accumulated_ap(coco_eval)
            out[d] = ap[0, has_gt].mean() if has_gt.any() else 0.0
    return out
