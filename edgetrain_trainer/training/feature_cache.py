"""Stage-1 feature cache: the frozen backbone's C3–C5 features for a few augmented views of each image.

With the backbone frozen, its forward pass is the same every epoch; computing it once per view turns
head training into a cheap loop over cached arrays (float16 to halve memory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ..data.augment import Augmenter
from ..data.image_store import Images
from ..errors import TrainingCancelled
from ..model.box_coding import AnchorMatcher

EXTRACT_BATCH = 8


@dataclass
class FeatureCache:
    """features: per level float16 [M, h, w, c]; class_targets int16 [M, N] and box_targets float16
    [M, N, 4]: the AnchorMatcher's targets of each sample (matched once, not every epoch)."""

    features: list[np.ndarray]
    class_targets: np.ndarray
    box_targets: np.ndarray

    def __len__(self) -> int:
        return len(self.class_targets)

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self.features) + self.class_targets.nbytes + self.box_targets.nbytes


def bytes_per_view(feature_shapes: list[tuple[int, int, int]], anchors: int) -> int:
    """Cache bytes of one view: float16 features of every level, int16 class and float16 box targets."""
    return sum(2 * h * w * c for h, w, c in feature_shapes) + anchors * (2 + 4 * 2)


def plan_cache(images: int, views: int, view_bytes: int, max_bytes: int) -> tuple[int, int]:
    """(views per image, images) to cache within max_bytes: fewer augmented views first, then, at one view
    each, a subset of the images (fine-tuning still sees them all). At least one view of one image."""
    if images * views * view_bytes <= max_bytes:
        return views, images
    fitting = max_bytes // view_bytes
    if fitting >= images:
        return max(int(fitting // images), 1), images
    return 1, max(int(fitting), 1)


def build_feature_cache(
    backbone: keras.Model,
    images: Images,
    boxes: list[np.ndarray],
    classes: list[np.ndarray],
    views: int,
    augmenter: Augmenter | None,
    matcher: AnchorMatcher,
    rng: np.random.Generator,
    cancel: Callable[[], bool] = lambda: False,
    on_batch: Callable[[int, int], None] = lambda done, total: None,
) -> FeatureCache:
    """Features of `views` views of each image: view 0 is the image itself, the others are augmented
    (augmenter None: only view 0). images: uint8 [M, S, S, 3]. Checks `cancel` between batches."""
    extract = tf.function(lambda x: backbone(x, training=False))
    total = len(images) * (views if augmenter is not None else 1)
    # Filled in place: collecting chunks and concatenating them would hold the features twice at the end.
    features = [np.empty((total, *out.shape[1:]), np.float16) for out in backbone.outputs]
    class_targets = np.empty((total, len(matcher.anchors)), np.int16)
    box_targets = np.empty((total, len(matcher.anchors), 4), np.float16)
    done = 0
    pending: list[np.ndarray] = []

    def flush() -> None:
        feats = extract(tf.constant(np.stack(pending).astype(np.float32)))
        for level, f in enumerate(feats):
            features[level][done - len(pending) : done] = f.numpy()
        pending.clear()
        on_batch(done, total)

    for view in range(views if augmenter is not None else 1):
        for i in range(len(images)):
            if cancel():
                raise TrainingCancelled("training cancelled while caching features")
            if view == 0 or augmenter is None:
                img, b, c = images[i], boxes[i], classes[i]
            else:
                img, b, c = augmenter(images[i], boxes[i], classes[i], rng)
            pending.append(img)
            class_targets[done], box_targets[done] = matcher.match(b, c)
            done += 1
            if len(pending) == EXTRACT_BATCH:
                flush()
    if pending:
        flush()
    return FeatureCache(features, class_targets, box_targets)
