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
from dataclasses import fields
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass

from .errors import InvalidArgumentError

BoxLoss = Literal["huber", "giou", "huber+giou"]  # model.losses.DetectionLoss.box_loss
SelectionMetric = Literal["map50", "map50_95"]  # training.loop.Stopping.metric
BOX_LOSSES = get_args(BoxLoss)
SELECTION_METRICS = get_args(SelectionMetric)
Count = Annotated[int, Field(ge=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


# strict: no "2" for 2 or true for 1; JSON's ints are still taken for floats. NaN and Infinity are refused.
@dataclass(config=ConfigDict(strict=True, allow_inf_nan=False))
class TrainerConfig:
    # --- stage 1: frozen backbone, head on cached features
    cache_features: bool = True  # run stage 1 at all
    cache_views: Count = 4  # cached views per training image: the plain image plus (views - 1) augmented ones
    cache_max_mib: Count = 1536  # memory cap of the cache: fewer views, then fewer images, on large datasets
    head_max_epochs: Count = 80  # epochs over the cached views
    head_batch_size: Count = 16
    # AdamW, 1-epoch linear warm-up then cosine decay (training/schedule.py)
    head_learning_rate: Positive = 4e-3
    # at most this share of the training time when stage 2 follows
    head_time_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    # --- stage 2: fine-tune the whole network
    finetune: bool = True  # run stage 2 when budget remains after stage 1
    finetune_max_epochs: Count = 150  # in practice the budget or early stopping ends the stage first
    finetune_batch_size: Count = 8
    # the pretrained backbone takes a lower rate than the fresh head (docs/lab-notes.md has the comparison)
    finetune_learning_rate: Positive = 8e-4
    finetune_warmup_epochs: Positive = 1.0  # linear warm-up of the fine-tuning rate, in epochs
    # --- both stages
    max_epochs: Count | None = None  # caps each stage's epochs (tests use 1–2)
    # the validation figure that picks the weights a stage keeps, ends it early and sets a warm start's bar:
    # "map50_95" (COCO's primary metric, averaged over IoU 0.5–0.95 like AutoML's bounding-box mAP) favours
    # tight boxes, "map50" finding the objects at all (docs/trainer_design.md)
    selection_metric: SelectionMetric = "map50_95"
    patience: Count = 15  # epochs without a selection_metric gain > min_delta before MODEL_CONVERGED
    # ... and at least this share of the stage's training time, as epochs differ 20-fold in length between
    # datasets and model types; 0 counts epochs only
    patience_share: Annotated[float, Field(ge=0, lt=1)] = 0.2
    min_delta: NonNegative = 0.002
    # then the last stage decays its learning rate to the floor over this many more epochs before it stops
    # (training/loop.py); 0 stops at once
    cooldown_epochs: NonNegativeInt = 10
    weight_decay: NonNegative = 1e-4  # decoupled (AdamW)
    # validate and keep a moving average of the weights over ~this many epochs; 0 off
    ema_epochs: NonNegative = 1.0
    grad_clip_norm: Positive = 10.0
    # box loss (model/losses.py): "huber" on the encodings, "giou" on the boxes they decode to, or both.
    # GIoU fits boxes tighter: higher TEST mAP@[.5:.95] on raccoon and BCCD (docs/lab-notes.md, issue 31)
    box_loss: BoxLoss = "giou"
    giou_weight: Positive = 2.0  # weight of the GIoU term (mmdetection's RetinaNet-GIoU uses 2)
    # --- data
    # square input edge; None: the model type's (multiple of 64)
    input_size: Annotated[int, Field(ge=64, multiple_of=64)] | None = None
    # of TRAIN images held out when the dataset has no VALIDATION rows
    validation_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1
    # ... at least this many (at most 1/4 of TRAIN): mAP on 3 is noise
    min_validation_images: NonNegativeInt = 8
    images_max_mib: Count = 1024  # train (and, separately, validation) images above this are decoded on use
    max_train_images: Count | None = None  # use only the first N training images (CI-sized runs)
    max_eval_images: Count | None = None  # evaluate on at most N validation / test images
    augment_flip: bool = True  # horizontal flips
    augment_rotate: bool = False  # quarter turns too, for imagery without an up (microscopy, aerial)
    # zoom range: < 1 crops in, > 1 zooms out with padding
    augment_scale: tuple[Positive, Positive] = (0.6, 1.4)
    augment_color: NonNegative = 0.2  # brightness / contrast jitter amplitude
    # --- time and machine
    max_train_seconds: Positive | None = None  # cap training wall time below the budget's (benchmarks)
    export_reserve_seconds: NonNegative = 180.0  # budget time kept back for export and evaluation
    threads: NonNegativeInt = 0  # TF intra-op threads; 0 = the usable cores sustained other work leaves free
    # cap on that automatic count (`edgetrain serve --workers N`: cores / N); 0 = none
    max_threads: NonNegativeInt = 0
    # --- export and evaluation
    calibration_images: Count = 48  # training images for int8 calibration
    max_detections: Count = 100
    # classes output for each detected box, best first (the op's max_classes_per_detection). 2: a box whose
    # class is in doubt (a nine or a ten?) also carries its runner-up, scored, as per-class NMS detectors do
    classes_per_detection: Count = 2
    nms_iou_threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    # lowest best-class score a box enters NMS with; the op's NMS costs selected boxes x candidates, so a
    # low threshold sends thousands of anchors into it for no mAP
    score_threshold: Annotated[float, Field(ge=0, lt=1)] = 0.05

    @field_validator("augment_scale", mode="before")
    @classmethod
    def _from_json_list(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _consistent(self) -> TrainerConfig:
        if self.augment_scale[0] > self.augment_scale[1]:
            raise ValueError(
                f"augment_scale must be [low, high] with low ≤ high, got {list(self.augment_scale)}"
            )
        if not self.cache_features and not self.finetune:
            raise ValueError("cache_features and finetune cannot both be off")
        return self

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> TrainerConfig:
        """A config with `overrides` applied; an unknown key or a value out of type or range raises
        InvalidArgumentError naming the setting."""
        known = {f.name for f in fields(cls)}
        for key in overrides or {}:
            if key not in known:
                raise InvalidArgumentError(
                    f"overrides: unknown trainer setting {key!r}; known settings: {', '.join(sorted(known))}"
                )
        try:
            return cls(**(overrides or {}))
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            if not first["loc"]:  # a check across settings (_consistent)
                raise InvalidArgumentError(f"overrides: {first['ctx']['error']}") from None
            setting = ".".join(str(part) for part in first["loc"])
            raise InvalidArgumentError(
                f"overrides: {setting}: {first['msg']}, got {first['input']!r}"
            ) from None

    def epochs(self, stage_max: int) -> int:
        return min(stage_max, self.max_epochs) if self.max_epochs is not None else stage_max

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
