"""edgetrain trainer: edge object detectors from an AutoML CSV, exported as AutoML-shaped TF Lite packages.

Importing this package is cheap (no TensorFlow); the heavy modules load on first use.
"""

from .errors import DatasetError, InvalidArgumentError, TrainerError, TrainingCancelled
from .types import (
    DEFAULT_BUDGET_MILLI_NODE_HOURS,
    DEFAULT_MODEL_TYPE,
    EXPORT_FORMATS,
    MODEL_TYPES,
    Progress,
    StopReason,
    TrainRequest,
    TrainResult,
    validate_budget,
    validate_model_type,
)

__all__ = [
    "DEFAULT_BUDGET_MILLI_NODE_HOURS",
    "DEFAULT_MODEL_TYPE",
    "EXPORT_FORMATS",
    "MODEL_TYPES",
    "DatasetError",
    "InvalidArgumentError",
    "Progress",
    "StopReason",
    "TrainRequest",
    "TrainResult",
    "TrainerError",
    "TrainingCancelled",
    "validate_budget",
    "validate_model_type",
]
