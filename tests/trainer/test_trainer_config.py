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
        ({"max_epochs": "two"}, "max_epochs must be int"),
        ({"finetune": 1}, "finetune must be bool"),
        ({"max_epochs": 0}, "max_epochs must be ≥ 1"),
        ({"input_size": 300}, "multiple of 64"),
        ({"cache_features": False, "finetune": False}, "cannot both be off"),
        ({"classes_per_detection": 0}, "classes_per_detection must be ≥ 1"),
        ({"patience_share": 1.0}, r"patience_share must be in \[0, 1\), got 1.0"),
        ({"finetune_warmup_epochs": 0}, "finetune_warmup_epochs must be > 0, got 0"),
        ({"box_loss": "iou"}, "box_loss must be one of .*'giou'.*, got 'iou'"),
        ({"box_loss": 1}, "box_loss must be str"),
        ({"giou_weight": 0}, "giou_weight must be > 0, got 0.0"),
        # JSON's NaN and Infinity parse to floats that passed every range check
        ({"score_threshold": float("nan")}, "score_threshold must be finite, got nan"),
        ({"giou_weight": float("nan")}, "giou_weight must be finite, got nan"),
        ({"max_train_seconds": float("nan")}, "max_train_seconds must be finite, got nan"),
        ({"head_learning_rate": float("inf")}, "head_learning_rate must be finite, got inf"),
        ({"augment_scale": [0.5, float("inf")]}, r"augment_scale must be finite, got \(0.5, inf\)"),
        ({"score_threshold": 2}, r"score_threshold must be in \[0, 1\), got 2.0"),
        ({"nms_iou_threshold": 0}, r"nms_iou_threshold must be in \(0, 1\], got 0.0"),
        ({"augment_scale": [1.4, 0.6]}, r"augment_scale must be \[low, high\] with 0 < low ≤ high"),
        ({"finetune_learning_rate": 0}, "finetune_learning_rate must be > 0, got 0.0"),
        ({"max_train_seconds": -5}, "max_train_seconds must be > 0, got -5.0"),
        ({"weight_decay": -1e-4}, "weight_decay must be ≥ 0, got -0.0001"),
        ({"augment_color": -0.2}, "augment_color must be ≥ 0, got -0.2"),
    ],
)
def test_bad_values_are_rejected(overrides, message):
    with pytest.raises(InvalidArgumentError, match=message):
        TrainerConfig.from_overrides(overrides)
