"""TrainerConfig: every training hyperparameter, one documented field each.

`TrainRequest.overrides` maps onto these fields by name (e.g. {"max_epochs": 2} keeps CI trainings short);
an unknown key or a value of the wrong type is an InvalidArgumentError naming the key.

Training has two stages, sized for a CPU where backpropagating through the backbone is the cost:
1. head: the backbone is frozen; its C3–C5 features for a few augmented views of every training image are
   computed once and cached, and the detection head trains on the cache (many epochs, cheap).
2. finetune: the whole network trains end to end on freshly augmented images while budget remains.
Both stages validate each epoch, keep the weights that score best on `selection_metric` and stop early when
it stops improving.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .errors import InvalidArgumentError

BOX_LOSSES = ("huber", "giou", "huber+giou")  # model.losses.DetectionLoss.box_loss
SELECTION_METRICS = ("map50", "map50_95")  # training.loop.Stopping.metric


@dataclass
class TrainerConfig:
    # --- stage 1: frozen backbone, head on cached features
    cache_features: bool = True  # run stage 1 at all
    cache_views: int = 4  # cached views per training image: the plain image plus (views - 1) augmented ones
    cache_max_mib: int = 1536  # memory cap of the cache: fewer views, then fewer images, on large datasets
    head_max_epochs: int = 80  # epochs over the cached views
    head_batch_size: int = 16
    head_learning_rate: float = 4e-3  # AdamW, 1-epoch linear warm-up then cosine decay (training/schedule.py)
    head_time_share: float = 0.25  # at most this share of the training time when stage 2 follows
    # --- stage 2: fine-tune the whole network
    finetune: bool = True  # run stage 2 when budget remains after stage 1
    finetune_max_epochs: int = 150  # in practice the budget or early stopping ends the stage first
    finetune_batch_size: int = 8
    # the pretrained backbone takes a lower rate than the fresh head (docs/lab-notes.md has the comparison)
    finetune_learning_rate: float = 8e-4
    finetune_warmup_epochs: float = 1.0  # linear warm-up of the fine-tuning rate, in epochs
    # --- both stages
    max_epochs: int | None = None  # caps each stage's epochs (tests use 1–2)
    # the validation figure that picks the weights a stage keeps, ends it early and sets a warm start's bar:
    # "map50_95" (COCO's primary metric, averaged over IoU 0.5–0.95 like AutoML's bounding-box mAP) favours
    # tight boxes, "map50" finding the objects at all (docs/trainer_design.md)
    selection_metric: str = "map50_95"
    patience: int = 15  # epochs without a selection_metric gain > min_delta before MODEL_CONVERGED
    # ... and at least this share of the stage's training time, as epochs differ 20-fold in length between
    # datasets and model types; 0 counts epochs only
    patience_share: float = 0.2
    min_delta: float = 0.002
    # then the last stage decays its learning rate to the floor over this many more epochs before it stops
    # (training/loop.py); 0 stops at once
    cooldown_epochs: int = 10
    weight_decay: float = 1e-4  # decoupled (AdamW)
    ema_epochs: float = 1.0  # validate and keep a moving average of the weights over ~this many epochs; 0 off
    grad_clip_norm: float = 10.0
    # box loss (model/losses.py): "huber" on the encodings, "giou" on the boxes they decode to, or both.
    # GIoU fits boxes tighter: higher TEST mAP@[.5:.95] on raccoon and BCCD (docs/lab-notes.md, issue 31)
    box_loss: str = "giou"
    giou_weight: float = 2.0  # weight of the GIoU term (mmdetection's RetinaNet-GIoU uses 2)
    # --- data
    input_size: int | None = None  # square input edge; None: the model type's (multiple of 64)
    validation_fraction: float = 0.1  # of TRAIN images held out when the dataset has no VALIDATION rows
    min_validation_images: int = 8  # ... at least this many (at most 1/4 of TRAIN): mAP on 3 is noise
    images_max_mib: int = 1024  # train (and, separately, validation) images above this are decoded on use
    max_train_images: int | None = None  # use only the first N training images (CI-sized runs)
    max_eval_images: int | None = None  # evaluate on at most N validation / test images
    augment_flip: bool = True  # horizontal flips
    augment_rotate: bool = False  # quarter turns too, for imagery without an up (microscopy, aerial)
    augment_scale: tuple[float, float] = (0.6, 1.4)  # zoom range: < 1 crops in, > 1 zooms out with padding
    augment_color: float = 0.2  # brightness / contrast jitter amplitude
    # --- time and machine
    max_train_seconds: float | None = None  # cap training wall time below the budget's (benchmarks)
    export_reserve_seconds: float = 180.0  # budget time kept back for export and evaluation
    threads: int = 0  # TF intra-op threads; 0 = the usable cores sustained other work leaves free
    max_threads: int = 0  # cap on that automatic count (`edgetrain serve --workers N`: cores / N); 0 = none
    # --- export and evaluation
    calibration_images: int = 48  # training images for int8 calibration
    max_detections: int = 100
    # classes output for each detected box, best first (the op's max_classes_per_detection). 2: a box whose
    # class is in doubt (a nine or a ten?) also carries its runner-up, scored, as per-class NMS detectors do
    classes_per_detection: int = 2
    nms_iou_threshold: float = 0.5
    # lowest best-class score a box enters NMS with; the op's NMS costs selected boxes x candidates, so a
    # low threshold sends thousands of anchors into it for no mAP
    score_threshold: float = 0.05

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> TrainerConfig:
        """A config with `overrides` applied; unknown keys or wrong value types raise InvalidArgumentError."""
        config = cls()
        known = {f.name: f for f in fields(cls)}
        for key, value in (overrides or {}).items():
            if key not in known:
                raise InvalidArgumentError(
                    f"overrides: unknown trainer setting {key!r}; known settings: {', '.join(sorted(known))}"
                )
            default = getattr(config, key)
            setattr(config, key, _coerce(key, value, default, str(known[key].type)))
        config.validate()
        return config

    def validate(self) -> None:
        for field in fields(self):  # nan passes every comparison below, inf most of them
            value = getattr(self, field.name)
            numbers = value if isinstance(value, tuple) else (value,)
            if not all(math.isfinite(v) for v in numbers if isinstance(v, float)):
                raise InvalidArgumentError(f"overrides: {field.name} must be finite, got {value}")
        for names, rule, holds in _MINIMUMS:
            for name in names:
                value = getattr(self, name)
                if value is not None and not holds(value):  # None: an optional setting left unset
                    raise InvalidArgumentError(f"overrides: {name} must be {rule}, got {value}")
        if not 0 <= self.score_threshold < 1:
            raise InvalidArgumentError(
                f"overrides: score_threshold must be in [0, 1), got {self.score_threshold}"
            )
        if not 0 < self.nms_iou_threshold <= 1:
            raise InvalidArgumentError(
                f"overrides: nms_iou_threshold must be in (0, 1], got {self.nms_iou_threshold}"
            )
        low, high = self.augment_scale
        if not 0 < low <= high:
            raise InvalidArgumentError(
                f"overrides: augment_scale must be [low, high] with 0 < low ≤ high, got {[low, high]}"
            )
        if self.input_size is not None and (self.input_size < 64 or self.input_size % 64):
            raise InvalidArgumentError(
                f"overrides: input_size must be a multiple of 64, got {self.input_size}"
            )
        if not 0 < self.head_time_share <= 1:
            raise InvalidArgumentError("overrides: head_time_share must be in (0, 1]")
        if not 0 < self.validation_fraction < 1:
            raise InvalidArgumentError("overrides: validation_fraction must be between 0 and 1")
        if not 0 <= self.patience_share < 1:
            share = self.patience_share
            raise InvalidArgumentError(f"overrides: patience_share must be in [0, 1), got {share}")
        if self.box_loss not in BOX_LOSSES:
            raise InvalidArgumentError(
                f"overrides: box_loss must be one of {BOX_LOSSES}, got {self.box_loss!r}"
            )
        if self.selection_metric not in SELECTION_METRICS:
            metric = self.selection_metric
            raise InvalidArgumentError(
                f"overrides: selection_metric must be one of {SELECTION_METRICS}, got {metric!r}"
            )
        if not self.cache_features and not self.finetune:
            raise InvalidArgumentError("overrides: cache_features and finetune cannot both be off")

    def epochs(self, stage_max: int) -> int:
        return min(stage_max, self.max_epochs) if self.max_epochs is not None else stage_max

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# (settings, rule, check): the lower bounds TrainerConfig.validate applies
_MINIMUMS: tuple[tuple[tuple[str, ...], str, Callable[[Any], bool]], ...] = (
    (
        (
            "cache_views",
            "cache_max_mib",
            "images_max_mib",
            "head_max_epochs",
            "head_batch_size",
            "finetune_max_epochs",
            "finetune_batch_size",
            "patience",
            "calibration_images",
            "max_detections",
            "classes_per_detection",
            "max_epochs",
            "max_train_images",
            "max_eval_images",
        ),
        "≥ 1",
        lambda value: value >= 1,
    ),
    (
        (
            "head_learning_rate",
            "finetune_learning_rate",
            "finetune_warmup_epochs",
            "grad_clip_norm",
            "giou_weight",
            "max_train_seconds",
        ),
        "> 0",
        lambda value: value > 0,
    ),
    (
        (
            "weight_decay",
            "ema_epochs",
            "min_delta",
            "augment_color",
            "export_reserve_seconds",
            "min_validation_images",
            "cooldown_epochs",
            "threads",
            "max_threads",
        ),
        "≥ 0",
        lambda value: value >= 0,
    ),
)


def _coerce(key: str, value: Any, default: Any, annotation: str) -> Any:
    """Accept JSON-ish values (ints for floats, lists for tuples); reject the rest."""
    if value is None:
        if "None" in str(annotation):
            return None
        raise InvalidArgumentError(f"overrides: {key} cannot be null")
    kind = type(default) if default is not None else (int if "int" in str(annotation) else float)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is tuple:
        if isinstance(value, (list, tuple)) and len(value) == len(default):
            return tuple(float(v) for v in value)
    raise InvalidArgumentError(f"overrides: {key} must be {kind.__name__}, got {value!r}")
