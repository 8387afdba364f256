"""DetectorTraining: the detector of one training and its two `Stage` values.

train.py runs the stages through loop.run_stage:
1. head_stage(): the backbone is frozen; its C3–C5 features for a few augmented views of every training
   image are computed once (feature_cache.py) and the detection head trains on them (many cheap epochs).
2. finetune_stage(): the whole network trains on freshly augmented images while budget remains; it must
   beat the head stage's validation score to replace its weights.
A warm start (warm_start.py) loads an earlier model and, when stage 2 follows, skips stage 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from ..config import TrainerConfig
from ..data.augment import Augmenter
from ..data.dataset import Example
from ..data.image_store import Images, take
from ..errors import TrainingCancelled
from ..evaluation import evaluate
from ..model.anchors import DEFAULT_ANCHORS, generate_anchors
from ..model.backbones import build_backbone
from ..model.box_coding import AnchorMatcher
from ..model.catalog import ModelTypeSpec
from ..model.detector import backbone_feature_shapes, build_detector, build_head
from ..model.losses import DetectionLoss
from ..model.postprocess import PostProcessConfig, decode_detections
from ..types import CancelCheck, Progress, ProgressCallback
from .budget import BudgetClock
from .feature_cache import FeatureCache, build_feature_cache, bytes_per_view, plan_cache
from .loop import Batch, EpochReport, RateSchedule, Stage, Stopping, epoch_order, pass_size, selection_score
from .warm_start import WarmStartSource, load_warm_start

PREDICT_BATCH = 8
# Input megapixels per forward/backward pass; larger batches run as micro-batches (loop.make_train_step).
# Same speed, less memory: at 448 px a head batch of 16 holds 1.4 GB of activations in one pass.
HEAD_PASS_MEGAPIXELS = 1.7
FINETUNE_PASS_MEGAPIXELS = 0.85


class DetectorTraining:
    def __init__(
        self,
        spec: ModelTypeSpec,
        labels: list[str],
        config: TrainerConfig,
        clock: BudgetClock,
        rng: np.random.Generator,
        report: ProgressCallback,
        cancel: CancelCheck,
        pct_range: tuple[float, float],
        warm: WarmStartSource | None = None,
    ):
        self.spec, self.labels, self.config, self.clock = spec, labels, config, clock
        self.rng, self.report, self.cancel, self.pct_range = rng, report, cancel, pct_range
        self.warm = warm
        self.backbone = build_backbone(spec.backbone, spec.input_size, weights=warm is None)
        self.head = build_head(backbone_feature_shapes(self.backbone), spec, len(labels))
        warm_note = load_warm_start(warm, self.backbone, self.head, labels) if warm else ""
        self.detector = build_detector(self.backbone, self.head, spec.input_size)
        self.anchors = generate_anchors(spec.input_size, DEFAULT_ANCHORS)
        self.matcher = AnchorMatcher(self.anchors)
        self.loss = DetectionLoss(
            len(labels), box_loss=config.box_loss, giou_weight=config.giou_weight, anchors=self.anchors
        )
        self.augmenter = Augmenter(
            config.augment_flip, config.augment_rotate, config.augment_scale, config.augment_color
        )
        # A warm start goes straight to fine-tuning: the head that stage 1 would train is already trained.
        self.runs_head_stage = config.cache_features and not (warm and config.finetune)
        head_epochs = config.epochs(config.head_max_epochs) if self.runs_head_stage else 0
        finetune_epochs = config.epochs(config.finetune_max_epochs) if config.finetune else 0
        self._work_done, self._work_total = 0, max(head_epochs + finetune_epochs, 1)
        if warm_note:
            self._progress("data", warm_note)

    def set_data(
        self, train_ex: list[Example], train_images: Images, val_ex: list[Example], val_images: Images
    ) -> None:
        self.train_ex, self.train_images = train_ex, train_images
        self.val_ex, self.val_images = val_ex, val_images
        self.train_boxes = [e.boxes_yxyx() for e in train_ex]
        self.train_classes = [e.class_ids() for e in train_ex]

    # ---------------------------------------------------------------- the two stages
    def head_stage(self, last: bool, keep_above: float = -1.0) -> Stage:
        """Stage 1 on a freshly built feature cache. `last`: no stage follows (it then cools down and
        may use the whole training time). A warm head trains at the fine-tuning rate
        and must beat `keep_above`, the score of the weights it starts from."""
        cfg = self.config
        self.backbone.trainable = False
        cache = self._feature_cache()
        val_features = self._features(self.val_images)
        predict = tf.function(lambda x: self.head(x, training=False))
        batch_size = min(cfg.head_batch_size, len(cache))

        def batches() -> Iterator[Batch]:
            for idx in epoch_order(len(cache), cfg.head_batch_size, self.rng):
                idx = np.sort(idx)  # sorted fancy indexing reads the cache faster
                yield (
                    [tf.constant(f[idx].astype(np.float32)) for f in cache.features],
                    tf.constant(cache.class_targets[idx].astype(np.int32)),
                    tf.constant(cache.box_targets[idx].astype(np.float32)),
                )

        def validation_inputs() -> Iterator[list[tf.Tensor]]:
            for i in range(0, len(val_features[0]), PREDICT_BATCH):
                yield [tf.constant(f[i : i + PREDICT_BATCH].astype(np.float32)) for f in val_features]

        self._progress("head", "training the detection head on the cached features")
        deadline = cfg.head_time_share if cfg.finetune else 1.0
        return Stage(
            name="head",
            model=self.head,
            loss=self.loss,
            batches=batches,
            evaluate=lambda: self._validate(predict, validation_inputs()),
            steps_per_epoch=max(len(cache) // batch_size, 1),
            micro_batch=pass_size(cfg.head_batch_size, self.spec.input_size, HEAD_PASS_MEGAPIXELS),
            max_epochs=cfg.epochs(cfg.head_max_epochs),
            rates=self._rates(
                cfg.finetune_learning_rate if self.warm else cfg.head_learning_rate, warmup_epochs=1.0
            ),
            stopping=self._stopping(deadline, cfg.cooldown_epochs if last else 0),
            deadline_fraction=deadline,
            keep_above=keep_above,
        )

    def finetune_stage(self, keep_above: float) -> Stage:
        """Stage 2: every layer but the backbone's batch-norm statistics (frozen: batches are small).
        keep_above: the head stage's best validation score."""
        cfg = self.config
        self.backbone.trainable = True
        for layer in _all_layers(self.backbone):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # Keras runs non-trainable batch norm in inference mode
        predict = tf.function(lambda x: self.detector(x, training=False))
        images, boxes, classes = self.train_images, self.train_boxes, self.train_classes

        def batches() -> Iterator[Batch]:
            for idx in epoch_order(len(images), cfg.finetune_batch_size, self.rng):
                views = [self.augmenter(images[i], boxes[i], classes[i], self.rng) for i in idx]
                pairs = [self.matcher.match(v[1], v[2]) for v in views]
                x = tf.constant(np.stack([v[0] for v in views]).astype(np.float32))
                yield x, np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

        def validation_inputs() -> Iterator[tf.Tensor]:
            for i in range(0, len(self.val_images), PREDICT_BATCH):
                yield tf.constant(self.val_images[i : i + PREDICT_BATCH].astype(np.float32))

        self._progress("finetune", "fine-tuning every layer")
        return Stage(
            name="finetune",
            model=self.detector,
            loss=self.loss,
            batches=batches,
            evaluate=lambda: self._validate(predict, validation_inputs()),
            steps_per_epoch=max(len(images) // min(cfg.finetune_batch_size, len(images)), 1),
            micro_batch=pass_size(cfg.finetune_batch_size, self.spec.input_size, FINETUNE_PASS_MEGAPIXELS),
            max_epochs=cfg.epochs(cfg.finetune_max_epochs),
            rates=self._rates(cfg.finetune_learning_rate, warmup_epochs=cfg.finetune_warmup_epochs),
            stopping=self._stopping(1.0, cfg.cooldown_epochs),
            keep_above=keep_above,
        )

    def start_score(self) -> float:
        """Validation score (selection_metric) of the detector as it is now: a warm start's loaded weights."""
        predict = tf.function(lambda x: self.detector(x, training=False))
        batches = (
            tf.constant(self.val_images[i : i + PREDICT_BATCH].astype(np.float32))
            for i in range(0, len(self.val_images), PREDICT_BATCH)
        )
        map50, map50_95 = self._validate(predict, batches)
        figures = f"validation mAP@0.5 {map50:.3f}, mAP@[.5:.95] {map50_95:.3f}"
        self._progress("data", f"the warm-start weights: {figures}", val_map=map50)
        return selection_score(self.config.selection_metric, map50, map50_95)

    def _rates(self, learning_rate: float, warmup_epochs: float) -> RateSchedule:
        cfg = self.config
        return RateSchedule(
            learning_rate=learning_rate,
            warmup_epochs=warmup_epochs,
            weight_decay=cfg.weight_decay,
            grad_clip_norm=cfg.grad_clip_norm,
            ema_epochs=cfg.ema_epochs,
        )

    def _stopping(self, deadline_fraction: float, cooldown_epochs: int) -> Stopping:
        cfg = self.config
        stage_seconds = self.clock.seconds_at(deadline_fraction)
        return Stopping(
            patience=cfg.patience,
            min_delta=cfg.min_delta,
            patience_seconds=cfg.patience_share * stage_seconds,
            cooldown_epochs=cooldown_epochs,
            metric=cfg.selection_metric,
        )

    def _feature_cache(self) -> FeatureCache:
        """The cache of the training images' views within cache_max_mib: fewer views, then a random subset
        of the images when the dataset is large."""
        cfg = self.config
        self._progress("features", "caching backbone features")
        started = self.clock.elapsed()
        shapes = backbone_feature_shapes(self.backbone)
        count = len(self.train_images)
        views, kept = plan_cache(
            count, cfg.cache_views, bytes_per_view(shapes, len(self.anchors)), cfg.cache_max_mib * 2**20
        )
        images, boxes, classes = self.train_images, self.train_boxes, self.train_classes
        if kept < count:
            subset = np.sort(self.rng.permutation(count)[:kept])
            images = take(images, subset)
            boxes, classes = [boxes[i] for i in subset], [classes[i] for i in subset]

        def on_batch(done: int, total: int) -> None:
            if done % 64 < 8 or done == total:  # about every 64 views
                self._progress("features", f"cached features of {done}/{total} views")

        cache = build_feature_cache(
            self.backbone,
            images,
            boxes,
            classes,
            views,
            self.augmenter,
            self.matcher,
            self.rng,
            self.cancel,
            on_batch,
        )
        capped = (
            f" (cache_max_mib {cfg.cache_max_mib}: {views} views of {kept} images)"
            if (views, kept) != (cfg.cache_views, count)
            else ""
        )
        self._progress(
            "features",
            f"cached {len(cache)} views ({cache.nbytes / 2**20:.0f} MiB) "
            f"in {self.clock.elapsed() - started:.0f} s{capped}",
        )
        return cache

    def _features(self, images: Images) -> list[np.ndarray]:
        extract = tf.function(lambda x: self.backbone(x, training=False))
        chunks = [
            extract(tf.constant(images[i : i + PREDICT_BATCH].astype(np.float32)))
            for i in range(0, len(images), PREDICT_BATCH)
        ]
        return [np.concatenate([c[level].numpy() for c in chunks]).astype(np.float16) for level in range(3)]

    def _validate(self, predict, batches: Iterator) -> tuple[float, float]:
        """Validation (mAP@0.5, mAP@[.5:.95]) of `predict` (inputs → [box_encodings, class_logits]) over
        batches aligned with the validation examples, decoded with the export's post-processing."""
        detections = []
        for inputs in batches:
            if self.cancel():
                raise TrainingCancelled("training cancelled during validation")
            box_pred, class_logits = predict(inputs)
            detections += decode_detections(
                np.asarray(box_pred), np.asarray(class_logits), self.anchors, self.post_config()
            )
        result = evaluate(self.val_ex, self.labels, [(d.boxes, d.classes, d.scores) for d in detections])
        return result.map50, result.map50_95

    # ---------------------------------------------------------------- progress
    def epoch_report(self, r: EpochReport) -> None:
        """loop.run_stage's report: one more unit of work done, as a Progress."""
        self._work_done += 1
        message = f"{r.phase} epoch {r.epoch}" + (f"; {r.note}" if r.note else "")
        self._progress(r.phase, message, r.losses, r.val_map, r.epoch)

    def _progress(
        self,
        phase: str,
        message: str,
        losses: dict[str, float] | None = None,
        val_map: float | None = None,
        epoch: int | None = None,
    ) -> None:
        lo, hi = self.pct_range
        fraction = max(self.clock.train_fraction(), self._work_done / self._work_total)
        rounded = {k: round(float(v), 5) for k, v in (losses or {}).items()}
        self.report(Progress(lo + (hi - lo) * min(fraction, 1.0), phase, epoch, rounded, val_map, message))

    # ---------------------------------------------------------------- outputs
    def post_config(self) -> PostProcessConfig:
        return PostProcessConfig.from_trainer_config(self.config.to_dict())


def _all_layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
