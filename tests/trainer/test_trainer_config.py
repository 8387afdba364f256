"""TrainRequest.overrides → TrainerConfig."""

import pytest

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.errors import InvalidArgumentError


def test_overrides_set_fields_and_coerce_json_values():
    config = TrainerConfig.from_overrides(
        {"max_epochs": 2, "head_learning_rate": 1, "augment_scale": [0.8, 1.2]}
    )
    assert config.max_epochs == 2
    assert config.head_learning_rate == 1.0 and isinstance(config.head_learning_rate, float)
    assert config.augment_scale == (0.8, 1.2)
    assert config.epochs(config.head_max_epochs) == 2


def test_unknown_key_is_named():
    with pytest.raises(InvalidArgumentError, match="'epochz'"):
        TrainerConfig.from_overrides({"epochz": 3})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"max_epochs": "two"}, "max_epochs: Input should be a valid integer, got 'two'"),
        ({"max_epochs": 2.0}, "max_epochs: Input should be a valid integer, got 2.0"),
        ({"finetune": 1}, "finetune: Input should be a valid boolean, got 1"),
        ({"head_learning_rate": "0.1"}, "head_learning_rate: Input should be a valid number, got '0.1'"),
        ({"max_epochs": 0}, "max_epochs: Input should be greater than or equal to 1, got 0"),
        ({"input_size": 300}, "input_size: Input should be a multiple of 64, got 300"),
        ({"input_size": 0}, "input_size: Input should be greater than or equal to 64, got 0"),
        (
            {"cache_features": False, "finetune": False},
            "overrides: cache_features and finetune cannot both be off",
        ),
        ({"classes_per_detection": 0}, "classes_per_detection: Input should be greater than or equal to 1"),
        ({"patience_share": 1.0}, "patience_share: Input should be less than 1, got 1.0"),
        ({"finetune_warmup_epochs": 0}, "finetune_warmup_epochs: Input should be greater than 0, got 0"),
        ({"box_loss": "iou"}, r"box_loss: Input should be 'huber', 'giou' or 'huber\+giou', got 'iou'"),
        ({"box_loss": 1}, r"box_loss: Input should be .*, got 1"),
        ({"giou_weight": 0}, "giou_weight: Input should be greater than 0, got 0"),
        # JSON's NaN and Infinity parse to floats that passed every range check
        ({"score_threshold": float("nan")}, "score_threshold: Input should be a finite number, got nan"),
        ({"giou_weight": float("nan")}, "giou_weight: Input should be a finite number, got nan"),
        ({"max_train_seconds": float("nan")}, "max_train_seconds: Input should be a finite number, got nan"),
        (
            {"head_learning_rate": float("inf")},
            "head_learning_rate: Input should be a finite number, got inf",
        ),
        ({"augment_scale": [0.5, float("inf")]}, "augment_scale.1: Input should be a finite number, got inf"),
        ({"augment_scale": [0.5]}, "augment_scale.1: Field required"),
        ({"score_threshold": 2}, "score_threshold: Input should be less than 1, got 2"),
        ({"nms_iou_threshold": 0}, "nms_iou_threshold: Input should be greater than 0, got 0"),
        (
            {"augment_scale": [1.4, 0.6]},
            r"augment_scale must be \[low, high\] with low ≤ high, got \[1.4, 0.6\]",
        ),
        ({"finetune_learning_rate": 0}, "finetune_learning_rate: Input should be greater than 0, got 0"),
        ({"max_train_seconds": -5}, "max_train_seconds: Input should be greater than 0, got -5"),
        ({"weight_decay": -1e-4}, "weight_decay: Input should be greater than or equal to 0, got -0.0001"),
        ({"augment_color": -0.2}, "augment_color: Input should be greater than or equal to 0, got -0.2"),
        ({"threads": None}, "threads: Input should be a valid integer, got None"),
    ],
)
def test_bad_values_are_rejected(overrides, message):
    with pytest.raises(InvalidArgumentError, match=message):
        TrainerConfig.from_overrides(overrides)
