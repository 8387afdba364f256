"""The catalog of the three AutoML edge model types: which backbone, input size and head size each one uses.

Named "catalog" (it was model_types.py) so it is not confused with the top-level types.py, which holds the
public request / progress / result types and the model-type *names* the API accepts; this module holds the
architecture behind each name.

EfficientDet-Lite0/1/2 are the reference points (320/384/448 px, BiFPN 64/88/112 channels). The
choices below trade accuracy for latency on a 2-thread CPU; they are strictly ordered in input size,
backbone capacity and head width, so latency and accuracy are ordered too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..types import validate_model_type


@dataclass(frozen=True)
class ModelTypeSpec:
    """Architecture of one model type.

    backbone: a name build_backbone() accepts. input_size: square input edge in pixels (multiple of 64 so
    every pyramid level, strides 8..64, has an integer size). fpn_channels / fpn_repeats: width and depth of
    the feature pyramid. head_repeats: separable conv layers in the class and box nets before the predictors.
    """

    name: str
    backbone: str
    input_size: int
    fpn_channels: int
    fpn_repeats: int
    head_repeats: int


MODEL_TYPE_SPECS: dict[str, ModelTypeSpec] = {
    "mobile-low-latency-1": ModelTypeSpec(
        "mobile-low-latency-1", "mobilenet_v2", 320, fpn_channels=64, fpn_repeats=1, head_repeats=2
    ),
    "mobile-versatile-1": ModelTypeSpec(
        "mobile-versatile-1", "efficientnet_lite1", 384, fpn_channels=72, fpn_repeats=2, head_repeats=3
    ),
    "mobile-high-accuracy-1": ModelTypeSpec(
        "mobile-high-accuracy-1", "efficientnet_lite2", 448, fpn_channels=96, fpn_repeats=2, head_repeats=3
    ),
}


def spec_for(model_type: str) -> ModelTypeSpec:
    """The architecture of an AutoML model type (raises InvalidArgumentError for unknown types)."""
    return MODEL_TYPE_SPECS[validate_model_type(model_type)]
