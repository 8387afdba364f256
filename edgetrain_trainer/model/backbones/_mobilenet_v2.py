"""MobileNetV2 (torchvision's structure and parameter names) as a Keras functional graph.

torchvision pads every strided 3x3 conv by 1 on all sides and uses BatchNorm eps 1e-5; Keras'
padding='same' pads only bottom/right on even inputs, which is why keras.applications.MobileNetV2 cannot
reproduce these weights. Features: C3 = features.6 (32 ch), C4 = features.13 (96 ch), C5 = features.17
(320 ch), the last inverted-residual outputs at strides 8/16/32 (the 1x1 conv to 1280 channels belongs to the
classifier only).
"""

from __future__ import annotations

import keras

from ._layers import PortedGraph, normalize, residual_add
from ._registry import BackboneSpec

# expansion t, output channels c, repeats n, first stride s (torchvision inverted_residual_setting)
_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_FEATURE_INDICES = (6, 13, 17)
_IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
HEAD_PREFIXES = ("features.18.", "classifier.")


def _inverted_residual(graph: PortedGraph, x, inp: int, oup: int, stride: int, expand: int, prefix: str):
    hidden = inp * expand
    y = x
    index = 0
    if expand != 1:
        y = graph.conv_bn(y, hidden, 1, 1, f"{prefix}.conv.0.0", f"{prefix}.conv.0.1")
        index = 1
    y = graph.conv_bn(y, None, 3, stride, f"{prefix}.conv.{index}.0", f"{prefix}.conv.{index}.1")
    y = graph.conv_bn(y, oup, 1, 1, f"{prefix}.conv.{index + 1}", f"{prefix}.conv.{index + 2}", relu6=False)
    if stride == 1 and inp == oup:
        y = residual_add(x, y, prefix)
    return y


def build(spec: BackboneSpec, input_size: int, *, classifier: bool) -> tuple[keras.Model, PortedGraph]:
    """The network and its PortedGraph; outputs [C3, C4, C5], or ImageNet logits [B, 1000] if classifier."""
    graph = PortedGraph(bn_epsilon=1e-5, tf_same_padding=False)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = normalize(inputs, _IMAGENET_MEAN, _IMAGENET_STD)
    x = graph.conv_bn(x, 32, 3, 2, "features.0.0", "features.0.1")
    channels, index, features = 32, 1, []
    for expand, out_channels, repeats, first_stride in _SETTINGS:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            x = _inverted_residual(graph, x, channels, out_channels, stride, expand, f"features.{index}")
            if index in _FEATURE_INDICES:
                features.append(x)
            channels, index = out_channels, index + 1
    if not classifier:
        return keras.Model(inputs, features, name=spec.name), graph
    x = graph.conv_bn(x, 1280, 1, 1, "features.18.0", "features.18.1")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = graph.dense(x, 1000, "classifier.1")
    return keras.Model(inputs, logits, name=f"{spec.name}_classifier"), graph
