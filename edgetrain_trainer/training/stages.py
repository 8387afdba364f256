"""TrainingRun: the model, its two training stages, saving, export and evaluation of one training.

train.py drives it; this module holds everything that touches TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..config import TrainerConfig
from ..data.augment import Augmenter
from ..data.dataset import Example
from ..data.image_store import Images, take
from ..data.images import load_rgb
from ..errors import TrainingCancelled
from ..evaluation import Evaluation, evaluate
from ..export.package import save_model_dir, write_tflite_package
from ..export.tflite_detector import TFLiteDetector
from ..model.anchors import DEFAULT_ANCHORS, generate_anchors
from ..model.backbones import build_backbone, freeze_early_layers
from ..model.box_coding import AnchorMatcher
from ..model.catalog import ModelTypeSpec
from ..model.detector import backbone_feature_shapes, build_detector, build_head
from ..model.losses import DetectionLoss
from ..model.postprocess import PostProcessConfig
from ..types import Progress
from .budget import BudgetClock, EarlyStopping
from .feature_cache import build_feature_cache, bytes_per_view, plan_cache
from .loop import (
    StageOutcome,
    StageSettings,
    feature_batches,
    finetune_epoch_fn,
    head_epoch_fn,
    image_batches,
    make_optimizer,
    make_train_step,
    pass_size,
    predict_map,
    run_stage,
)


class TrainingRun:
    def __init__(
        self,
        spec: ModelTypeSpec,
        labels: list[str],
        config: TrainerConfig,
        clock: BudgetClock,
        rng: np.random.Generator,
        report,
        cancel,
        pct_range: tuple[float, float],
    ):
        self.spec, self.labels, self.config, self.clock = spec, labels, config, clock
        self.rng, self.report, self.cancel, self.pct_range = rng, report, cancel, pct_range
        self.backbone = build_backbone(spec.backbone, spec.input_size)
        self.head = build_head(backbone_feature_shapes(self.backbone), spec, len(labels))
        self.detector = build_detector(self.backbone, self.head, spec.input_size)
        self.anchors = generate_anchors(spec.input_size, DEFAULT_ANCHORS)
        self.matcher = AnchorMatcher(self.anchors)
        self.loss = DetectionLoss(num_classes=len(labels))
        self.augmenter = Augmenter(
            config.augment_flip, config.augment_rotate, config.augment_scale, config.augment_color
        )
        self._work_done, self._work_total = 0, 1

    def set_data(
        self, train_ex: list[Example], train_images: Images, val_ex: list[Example], val_images: Images
    ) -> None:
        self.train_ex, self.train_images, self.val_ex, self.val_images = (
            train_ex,
            train_images,
            val_ex,
            val_images,
        )
        self.train_boxes = [e.boxes_yxyx() for e in train_ex]
        self.train_classes = [e.class_ids() for e in train_ex]

    # ---------------------------------------------------------------- training
    def fit(self) -> list[StageOutcome]:
        cfg = self.config
        head_epochs = cfg.epochs(cfg.head_max_epochs) if cfg.cache_features else 0
        ft_epochs = cfg.epochs(cfg.finetune_max_epochs) if cfg.finetune else 0
        self._work_total = head_epochs + ft_epochs
        outcomes = []
        self._head_best = None
        if cfg.cache_features:
            share = cfg.head_time_share if cfg.finetune else 1.0
            last = not cfg.finetune  # only the last stage cools down and averages its tail
            outcomes.append(
                self._head_stage(
                    StageSettings(
                        "head",
                        head_epochs,
                        cfg.head_batch_size,
                        cfg.head_learning_rate,
                        share,
                        cfg.cooldown_epochs if last else 0,
                        cfg.tail_average_lr_fraction if last else 0.0,
                    )
                )
            )
            self._head_best = outcomes[-1].best_map50
        if cfg.finetune and self.clock.train_fraction() < 1.0:
            outcomes.append(
                self._finetune_stage(
                    StageSettings(
                        "finetune",
                        ft_epochs,
                        cfg.finetune_batch_size,
                        cfg.finetune_learning_rate,
                        1.0,
                        cfg.cooldown_epochs,
                        cfg.tail_average_lr_fraction,
                        warmup_epochs=cfg.finetune_warmup_epochs,
                    )
                )
            )
        return outcomes

    def _head_stage(self, settings: StageSettings) -> StageOutcome:
        self.backbone.trainable = False
        self._progress("features", {}, None, "caching backbone features")
        started = self.clock.elapsed()
        images, boxes, classes, views, capped = self._cache_inputs()
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
            self._on_cache_batch,
        )
        val_features = self._features(self.val_images)
        self._progress(
            "features",
            {},
            None,
            f"cached {len(cache)} views ({cache.nbytes / 2**20:.0f} MiB) "
            f"in {self.clock.elapsed() - started:.0f} s{capped}",
        )
        steps = max(len(cache) // min(settings.batch_size, len(cache)), 1)
        optimizer, schedule = make_optimizer(
            settings, steps, self.config.weight_decay, self.config.grad_clip_norm, self.config.ema_epochs
        )
        micro = pass_size(settings.batch_size, self.spec.input_size, self.config.head_pass_megapixels)
        step = make_train_step(self.head, optimizer, self.loss, micro)
        predict = tf.function(lambda x: self.head(x, training=False))
        self._progress("head", {}, None, "training the detection head on the cached features")
        epoch_fn = head_epoch_fn(self.head, step, cache, settings, self.clock, self.cancel, self.rng)
        return run_stage(
            settings,
            epoch_fn,
            lambda: predict_map(
                predict,
                feature_batches(val_features),
                self.val_ex,
                self.labels,
                self.anchors,
                self.post_config(),
                self.cancel,
            ),
            self.head,
            self.clock,
            self._stopper(settings),
            self._epoch_report,
            optimizer,
            schedule,
            steps,
        )

    def _cache_inputs(self):
        """(images, boxes, classes, views, note) for the feature cache within cache_max_mib: fewer views,
        then a random subset of the images when the dataset is large."""
        shapes = [tuple(int(d) for d in out.shape[1:]) for out in self.backbone.outputs]
        views, count = plan_cache(
            len(self.train_images),
            self.config.cache_views,
            bytes_per_view(shapes, len(self.anchors)),
            self.config.cache_max_mib * 2**20,
        )
        note = ""
        if (views, count) != (self.config.cache_views, len(self.train_images)):
            note = f" (cache_max_mib {self.config.cache_max_mib}: {views} views of {count} images)"
        if count == len(self.train_images):
            return self.train_images, self.train_boxes, self.train_classes, views, note
        subset = np.sort(self.rng.permutation(len(self.train_images))[:count])
        return (
            take(self.train_images, subset),
            [self.train_boxes[i] for i in subset],
            [self.train_classes[i] for i in subset],
            views,
            note,
        )

    def _features(self, images: Images) -> list[np.ndarray]:
        extract = tf.function(lambda x: self.backbone(x, training=False))
        chunks = [extract(b) for b in image_batches(images)]
        return [np.concatenate([c[level].numpy() for c in chunks]).astype(np.float16) for level in range(3)]

    def _finetune_stage(self, settings: StageSettings) -> StageOutcome:
        self.backbone.trainable = True
        if not self.config.finetune_backbone_bn:
            for layer in _all_layers(self.backbone):
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False  # Keras runs non-trainable batch norm in inference mode
        frozen = freeze_early_layers(self.backbone, self.config.finetune_frozen_stride)
        steps = max(len(self.train_images) // min(settings.batch_size, len(self.train_images)), 1)
        optimizer, schedule = make_optimizer(
            settings, steps, self.config.weight_decay, self.config.grad_clip_norm, self.config.ema_epochs
        )
        micro = pass_size(settings.batch_size, self.spec.input_size, self.config.finetune_pass_megapixels)
        step = make_train_step(self.detector, optimizer, self.loss, micro)
        predict = tf.function(lambda x: self.detector(x, training=False))
        stride = self.config.finetune_frozen_stride
        what = f"all but the backbone's {frozen} layers at stride ≤ {stride}" if frozen else "every layer"
        self._progress("finetune", {}, None, f"fine-tuning {what}")
        epoch_fn = finetune_epoch_fn(
            self.detector,
            step,
            self.train_images,
            self.train_boxes,
            self.train_classes,
            self.augmenter,
            self.matcher,
            settings,
            self.clock,
            self.cancel,
            self.rng,
        )
        stopper = self._stopper(settings)
        return run_stage(
            settings,
            epoch_fn,
            lambda: predict_map(
                predict,
                image_batches(self.val_images),
                self.val_ex,
                self.labels,
                self.anchors,
                self.post_config(),
                self.cancel,
            ),
            self.detector,
            self.clock,
            stopper,
            self._epoch_report,
            optimizer,
            schedule,
            steps,
            # fine-tuning must beat the head stage to replace its weights
            keep_above=self._head_best if self._head_best is not None else -1.0,
        )

    def _stopper(self, settings: StageSettings) -> EarlyStopping:
        stage_seconds = self.clock.seconds_at(settings.deadline_fraction)
        return EarlyStopping(
            self.config.patience, self.config.min_delta, self.config.patience_share * stage_seconds
        )

    def _on_cache_batch(self, done: int, total: int) -> None:
        if done % 64 < 8 or done == total:  # about every 64 views
            self._progress("features", {}, None, f"cached features of {done}/{total} views")

    def _epoch_report(
        self, phase: str, epoch: int, losses: dict[str, float], val_map: float | None, note: str = ""
    ) -> None:
        self._work_done += 1
        message = f"{phase} epoch {epoch}" + (f"; {note}" if note else "")
        self._progress(phase, losses, val_map, message, epoch)

    def _progress(self, phase, losses, val_map, message, epoch=None) -> None:
        lo, hi = self.pct_range
        fraction = max(self.clock.train_fraction(), self._work_done / max(self._work_total, 1))
        self.report(
            Progress(
                lo + (hi - lo) * min(fraction, 1.0),
                phase,
                epoch,
                {k: round(float(v), 5) for k, v in losses.items()},
                val_map,
                message,
            )
        )

    # ---------------------------------------------------------------- outputs
    def post_config(self) -> PostProcessConfig:
        return PostProcessConfig.from_trainer_config(self.config.to_dict())

    def save(self, model_dir: Path, calibration: np.ndarray) -> None:
        save_model_dir(model_dir, self.detector, self.spec, self.labels, self.config.to_dict(), calibration)

    def export_tflite(self, dest: Path, quantization: str, calibration: np.ndarray) -> None:
        write_tflite_package(
            dest,
            self.detector,
            self.spec,
            self.labels,
            quantization,
            calibration,
            self.post_config(),
            self.anchors,
            self.cancel,
        )

    def evaluate_package(
        self, package_dir: Path, examples: list[Example], cancel
    ) -> tuple[Evaluation, float]:
        """Evaluate the exported TF Lite model on `examples` (original images) and time it at 2 threads on the
        first of them."""

        def images():
            for example in examples:
                if cancel():
                    raise TrainingCancelled("training cancelled during evaluation")
                yield load_rgb(example.image_path)

        found, latency = TFLiteDetector(package_dir, num_threads=2).detect_and_time(images())
        predictions = [(det.boxes, det.classes, det.scores) for det in found]
        return evaluate(examples, self.labels, predictions), latency


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
