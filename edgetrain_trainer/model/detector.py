"""The detection head (feature pyramid + class/box nets) and the full detector built on a backbone.

Shapes: the backbone maps float32 RGB 0..255 [B, H, W, 3] to [C3, C4, C5] (strides 8, 16, 32). The head
maps those to box encodings [B, N, 4] (ty, tx, th, tw; see box_coding) and class logits [B, N, K], N the
anchor count of anchors.generate_anchors. Decoding and NMS are not part of the training graph: they live
in export.py (TFLite_Detection_PostProcess) and in train.py's validation.

Layers use ReLU6 and batch norm only (as EfficientDet-Lite does) so full-integer quantization is accurate.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from .anchors import DEFAULT_ANCHORS, AnchorConfig
from .catalog import ModelTypeSpec

# Initial foreground probability of the classifier (RetinaNet): keeps the focal loss stable at the start.
PRIOR_PROBABILITY = 0.01
# Batch-norm moving-average momentum. CPU trainings run only a few hundred steps: with 0.99 the inference
# statistics would still be mostly their initial values (0.99**300 ≈ 0.05 is fine, 0.99**100 ≈ 0.37 is not).
BN_MOMENTUM = 0.9


def _sep_conv_bn(channels: int, name: str) -> list[layers.Layer]:
    return [
        layers.SeparableConv2D(channels, 3, padding="same", use_bias=False, name=f"{name}_conv"),
        layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=1e-3, name=f"{name}_bn"),
        layers.ReLU(6.0, name=f"{name}_relu6"),
    ]


def _apply(stack: list[layers.Layer], x):
    for layer in stack:
        x = layer(x)
    return x


def _pyramid(features, spec: ModelTypeSpec, anchors: AnchorConfig):
    """BiFPN-like pyramid without fusion weights: lateral 1x1 convs, extra levels by max-pooling, then
    `fpn_repeats` top-down + bottom-up passes with sum fusion and separable convs."""
    ch = spec.fpn_channels
    levels = [
        _apply(
            [
                layers.Conv2D(ch, 1, use_bias=False, name=f"lateral{i + 3}"),
                layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=1e-3, name=f"lateral{i + 3}_bn"),
            ],
            f,
        )
        for i, f in enumerate(features)
    ]
    for level in range(6, anchors.max_level + 1):
        levels.append(layers.MaxPooling2D(3, strides=2, padding="same", name=f"extra_p{level}")(levels[-1]))
    for r in range(spec.fpn_repeats):
        # top-down
        td = [None] * len(levels)
        td[-1] = levels[-1]
        for i in range(len(levels) - 2, -1, -1):
            up = layers.UpSampling2D(2, interpolation="nearest", name=f"fpn{r}_up{i}")(td[i + 1])
            fused = layers.Add(name=f"fpn{r}_td_add{i}")([levels[i], up])
            td[i] = _apply(_sep_conv_bn(ch, f"fpn{r}_td{i}"), fused)
        # bottom-up
        out = [td[0]] + [None] * (len(levels) - 1)
        for i in range(1, len(levels)):
            down = layers.MaxPooling2D(3, strides=2, padding="same", name=f"fpn{r}_down{i}")(out[i - 1])
            inputs = [levels[i], td[i], down] if i < len(levels) - 1 else [levels[i], down]
            fused = layers.Add(name=f"fpn{r}_bu_add{i}")(inputs)
            out[i] = _apply(_sep_conv_bn(ch, f"fpn{r}_bu{i}"), fused)
        levels = out
    return levels


def _prediction_net(levels, spec: ModelTypeSpec, outputs_per_anchor: int, name: str, bias_init, anchors):
    """Separable convs shared across levels (batch norm per level), then a shared predictor.
    Returns [B, N, outputs_per_anchor]."""
    convs = [
        layers.SeparableConv2D(spec.fpn_channels, 3, padding="same", use_bias=False, name=f"{name}_conv{j}")
        for j in range(spec.head_repeats)
    ]
    predictor = layers.SeparableConv2D(
        anchors.anchors_per_location * outputs_per_anchor,
        3,
        padding="same",
        bias_initializer=bias_init,
        name=f"{name}_predict",
    )
    per_level = []
    for li, x in enumerate(levels):
        for j, conv in enumerate(convs):
            x = conv(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=1e-3, name=f"{name}_bn{j}_l{li}")(x)
            x = layers.ReLU(6.0, name=f"{name}_relu{j}_l{li}")(x)
        x = predictor(x)
        per_level.append(layers.Reshape((-1, outputs_per_anchor), name=f"{name}_flat_l{li}")(x))
    return layers.Concatenate(axis=1, name=name)(per_level)


def build_head(
    feature_shapes: list[tuple[int, int, int]],
    spec: ModelTypeSpec,
    num_classes: int,
    anchors: AnchorConfig = DEFAULT_ANCHORS,
) -> keras.Model:
    """The head as its own model: [C3, C4, C5] (shapes without batch) → [box_encodings, class_logits].

    Being a separate model lets stage 1 train it on cached backbone features."""
    inputs = [keras.Input(shape=s, name=f"c{i + 3}") for i, s in enumerate(feature_shapes)]
    levels = _pyramid(inputs, spec, anchors)
    prior_bias = -math.log((1 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY)
    boxes = _prediction_net(levels, spec, 4, "box_net", "zeros", anchors)
    classes = _prediction_net(
        levels, spec, num_classes, "class_net", keras.initializers.Constant(prior_bias), anchors
    )
    return keras.Model(inputs, [boxes, classes], name="detection_head")


def build_detector(backbone: keras.Model, head: keras.Model, input_size: int) -> keras.Model:
    """The whole network: float32 RGB 0..255 [B, S, S, 3] → [box_encodings [B, N, 4], class_logits [B, N, K]].
    Shares its layers (weights) with `backbone` and `head`."""
    image = keras.Input(shape=(input_size, input_size, 3), name="image")
    outputs = head(backbone(image))
    return keras.Model(image, outputs, name="detector")


def backbone_feature_shapes(backbone: keras.Model) -> list[tuple[int, int, int]]:
    shapes = []
    for out in backbone.outputs:
        _, height, width, channels = out.shape  # [batch, h, w, c]; the batch is None
        shapes.append((int(height), int(width), int(channels)))
    return shapes
