"""EfficientNet-Lite0/1/2 (the lukemelas / ml-illustrated PyTorch parameter names) as a Keras graph.

The weights were converted from Google's TensorFlow checkpoints, so the graph is TensorFlow's: padding='same'
(strided convs pad more at the bottom/right), BatchNorm eps 1e-3, inputs scaled as (x - 127) / 128.
Lite differs from EfficientNet-B*: no squeeze-excite, ReLU6 instead of swish, stem (32 ch) and head
(1280 ch) not scaled, first and last stage not repeated more. Features: the last block of stages 3, 5 and 7
(strides 8/16/32), as in EfficientDet; the 1x1 head conv belongs to the classifier only.
"""

from __future__ import annotations

import math

import keras

from ._layers import PortedGraph, normalize, residual_add
from ._registry import BackboneSpec

# kernel, first stride, expansion, output channels, repeats: EfficientNet-B0's stage table
_STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
_FEATURE_STAGES = (2, 4, 6)
# width and depth multipliers (tensorflow/tpu efficientnet_lite_builder.efficientnet_lite_params)
SCALING = {
    "efficientnet_lite0": (1.0, 1.0),
    "efficientnet_lite1": (1.0, 1.1),
    "efficientnet_lite2": (1.1, 1.2),
}
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280
_MEAN = (127.0, 127.0, 127.0)
_STD = (128.0, 128.0, 128.0)
HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by `width`, rounded to a multiple of `divisor` without losing more than 10 %."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def _stage_repeats(stage: int, repeats: int, depth: float) -> int:
    return repeats if stage in (0, len(_STAGES) - 1) else int(math.ceil(depth * repeats))


def _mbconv(graph: PortedGraph, x, inp: int, oup: int, kernel: int, stride: int, expand: int, prefix: str):
    y = x
    if expand != 1:
        y = graph.conv_bn(y, inp * expand, 1, 1, f"{prefix}._expand_conv", f"{prefix}._bn0")
    y = graph.conv_bn(y, None, kernel, stride, f"{prefix}._depthwise_conv", f"{prefix}._bn1")
    y = graph.conv_bn(y, oup, 1, 1, f"{prefix}._project_conv", f"{prefix}._bn2", relu6=False)
    if stride == 1 and inp == oup:
        y = residual_add(x, y, prefix)
    return y


def build(spec: BackboneSpec, input_size: int, *, classifier: bool) -> tuple[keras.Model, PortedGraph]:
    """The network and its PortedGraph; outputs [C3, C4, C5], or ImageNet logits [B, 1000] if classifier."""
    width, depth = SCALING[spec.name]
    graph = PortedGraph(bn_epsilon=1e-3, tf_same_padding=True)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = normalize(inputs, _MEAN, _STD)
    x = graph.conv_bn(x, _STEM_CHANNELS, 3, 2, "_conv_stem", "_bn0")
    channels, block, features = _STEM_CHANNELS, 0, []
    for stage, (kernel, first_stride, expand, filters, repeats) in enumerate(_STAGES):
        out_channels = round_filters(filters, width)
        for repeat in range(_stage_repeats(stage, repeats, depth)):
            stride = first_stride if repeat == 0 else 1
            x = _mbconv(graph, x, channels, out_channels, kernel, stride, expand, f"_blocks.{block}")
            channels, block = out_channels, block + 1
        if stage in _FEATURE_STAGES:
            features.append(x)
    if not classifier:
        return keras.Model(inputs, features, name=spec.name), graph
    x = graph.conv_bn(x, _HEAD_CHANNELS, 1, 1, "_conv_head", "_bn1")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = graph.dense(x, 1000, "_fc")
    return keras.Model(inputs, logits, name=f"{spec.name}_classifier"), graph
