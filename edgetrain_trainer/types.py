"""The trainer's public request/progress/result types (shared by the CLI and the AutoML service)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from .errors import InvalidArgumentError

MODEL_TYPES = ("mobile-low-latency-1", "mobile-versatile-1", "mobile-high-accuracy-1")
DEFAULT_MODEL_TYPE = "mobile-versatile-1"
# AutoML's budget rules for mobile object-detection models; 1,000 milli node hours = one node hour.
MIN_BUDGET_MILLI_NODE_HOURS = 1_000
MAX_BUDGET_MILLI_NODE_HOURS = 100_000
DEFAULT_BUDGET_MILLI_NODE_HOURS = 24_000
EXPORT_FORMATS = ("tflite", "tf_saved_model", "tf_js")
Quantization = Literal["int8", "float32"]


class StopReason(StrEnum):
    MODEL_CONVERGED = "MODEL_CONVERGED"
    BUDGET_REACHED = "BUDGET_REACHED"


def validate_model_type(model_type: str) -> str:
    if model_type not in MODEL_TYPES:
        raise InvalidArgumentError(
            f"modelType: {model_type!r} is not an edge object-detection model type; "
            f"use one of {', '.join(MODEL_TYPES)}"
        )
    return model_type


def validate_budget(budget: int) -> int:
    if not MIN_BUDGET_MILLI_NODE_HOURS <= int(budget) <= MAX_BUDGET_MILLI_NODE_HOURS:
        raise InvalidArgumentError(
            f"trainBudgetMilliNodeHours: {budget} is outside {MIN_BUDGET_MILLI_NODE_HOURS:,}–"
            f"{MAX_BUDGET_MILLI_NODE_HOURS:,} for mobile object-detection models"
        )
    return int(budget)


@dataclass
class TrainRequest:
    """What to train. `data` is an AutoML import CSV or a Pascal VOC folder."""

    data: Path
    out_dir: Path
    model_type: str = DEFAULT_MODEL_TYPE
    budget_milli_node_hours: int = DEFAULT_BUDGET_MILLI_NODE_HOURS
    seed: int = 0
    quantization: Quantization = "int8"
    export_formats: tuple[str, ...] = ("tflite",)
    # Trainer hyperparameter overrides (see TrainerConfig in the trainer); operators and tests tune these.
    overrides: dict[str, Any] = field(default_factory=dict)
    # Warm start: an earlier model of the same model type (its TrainResult.model_dir, or the out_dir that
    # holds it) to start from instead of ImageNet weights; the label set may differ (training/warm_start.py)
    init_from: Path | None = None

    def __post_init__(self) -> None:
        self.data = Path(self.data)
        self.out_dir = Path(self.out_dir)
        if self.init_from is not None:
            self.init_from = Path(self.init_from)
        validate_model_type(self.model_type)
        validate_budget(self.budget_milli_node_hours)
        if self.quantization not in ("int8", "float32"):
            raise InvalidArgumentError(f"quantization: {self.quantization!r} must be 'int8' or 'float32'")
        for fmt in self.export_formats:
            if fmt not in EXPORT_FORMATS:
                raise InvalidArgumentError(f"modelFormat: {fmt!r} must be one of {', '.join(EXPORT_FORMATS)}")


@dataclass(frozen=True)
class Progress:
    """One progress report. percent is 0–100 of the whole run (budget-based until convergence)."""

    percent: float
    phase: str  # "data", "features", "head", "finetune", "export", "evaluate"
    epoch: int | None = None
    losses: dict[str, float] = field(default_factory=dict)
    val_map: float | None = None
    message: str = ""


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class EvaluatedImage:
    """One image the evaluation used: its id (sha256 hex of its bytes, data/image_ids.py) and the image as
    the data names it (Example.image_ref: the CSV cell, or the VOC path relative to the folder)."""

    image_id: str
    image_ref: str


@dataclass
class TrainResult:
    package_dir: Path  # the TF Lite package (model.tflite, dict.txt, tflite_metadata.json, evaluation.json)
    model_dir: Path  # everything needed to export other formats later (export_model)
    model_type: str
    labels: list[str]
    stop_reason: StopReason
    train_cost_milli_node_hours: int
    wall_seconds: float
    evaluation: dict[str, Any]  # AutoML-shaped: see evaluation.py
    map50: float
    map50_95: float
    latency_ms: float  # median, 2 threads, on the exported model
    size_bytes: int
    bad_rows: list[Any] = field(default_factory=list)
    threads: int = 0  # TF intra-op threads the training ran with
    # The images of the evaluation (TEST, or validation when there are no TEST rows), in evaluation order,
    # and the ids of the validation images, which chose the weights kept
    evaluated_images: list[EvaluatedImage] = field(default_factory=list)
    validation_images: list[str] = field(default_factory=list)
