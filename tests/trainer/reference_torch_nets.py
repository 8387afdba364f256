"""PyTorch reference networks the Keras backbone ports are checked against.

Written independently of edgetrain_trainer.model.backbones, module for module after the originals, so the
wheels' state dicts load with strict=True:
- MobileNetV2: torchvision.models.mobilenetv2 (ConvBNReLU, InvertedResidual, features/classifier), BSD-3.
- EfficientNet-Lite: lukemelas/EfficientNet-PyTorch as adapted by ml-illustrated/EfficientNet-Lite-PyTorch
  (block strings, round_filters/round_repeats, fix_head_stem, static 'same' padding, ReLU6, no SE),
  Apache-2.0.
Each `forward` returns (C3, C4, C5, logits) so the feature maps and the classifier can both be compared.
"""

from __future__ import annotations

import math
import re

import torch.nn.functional as F
from torch import nn

# ---- MobileNetV2 (torchvision) ----------------------------------------------------------------------------


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes: int, out_planes: int, kernel_size: int = 3, stride: int = 1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend(
            [
                ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
                nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
                nn.BatchNorm2d(oup),
            ]
        )
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    feature_indices = (6, 13, 17)  # last block at strides 8, 16, 32

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2]]
        settings.append([6, 320, 1, 1])
        input_channel = 32
        features: list[nn.Module] = [ConvBNReLU(3, input_channel, stride=2)]
        for t, c, n, s in settings:
            for i in range(n):
                features.append(InvertedResidual(input_channel, c, s if i == 0 else 1, expand_ratio=t))
                input_channel = c
        features.append(ConvBNReLU(input_channel, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.feature_indices:
                taps.append(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return (*taps, self.classifier(x))


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---- EfficientNet-Lite (lukemelas naming) -----------------------------------------------------------------

LITE_BLOCKS = [
    "r1_k3_s11_e1_i32_o16_se0.25",
    "r2_k3_s22_e6_i16_o24_se0.25",
    "r2_k5_s22_e6_i24_o40_se0.25",
    "r3_k3_s22_e6_i40_o80_se0.25",
    "r3_k5_s11_e6_i80_o112_se0.25",
    "r4_k5_s22_e6_i112_o192_se0.25",
    "r1_k3_s11_e6_i192_o320_se0.25",
]
# name: (width_coefficient, depth_coefficient, resolution, dropout_rate)
LITE_PARAMS = {
    "efficientnet_lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet_lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet_lite2": (1.1, 1.2, 260, 0.3),
}
LITE_BN_EPS = 1e-3


def _decode_block(text: str) -> dict:
    options = dict(re.split(r"(\d.*)", op)[:2] for op in text.split("_"))
    return {
        "num_repeat": int(options["r"]),
        "kernel_size": int(options["k"]),
        "stride": int(options["s"][0]),
        "expand_ratio": int(options["e"]),
        "input_filters": int(options["i"]),
        "output_filters": int(options["o"]),
    }


def round_filters(filters: int, width: float, divisor: int = 8, skip: bool = False) -> int:
    if skip:
        return filters
    filters *= width
    new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new_filters < 0.9 * filters:
        new_filters += divisor
    return int(new_filters)


def round_repeats(repeats: int, depth: float) -> int:
    return int(math.ceil(depth * repeats))


class Conv2dSamePadding(nn.Conv2d):
    """TensorFlow padding='same': pad so that out = ceil(in / stride), the extra pixel at bottom/right."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        oh, ow = math.ceil(ih / sh), math.ceil(iw / sw)
        pad_h = max((oh - 1) * sh + kh - ih, 0)
        pad_w = max((ow - 1) * sw + kw - iw, 0)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConvBlock(nn.Module):
    def __init__(self, args: dict):
        super().__init__()
        self.args = args
        inp = args["input_filters"]
        oup = inp * args["expand_ratio"]
        if args["expand_ratio"] != 1:
            self._expand_conv = Conv2dSamePadding(inp, oup, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(oup, eps=LITE_BN_EPS)
        k, s = args["kernel_size"], args["stride"]
        self._depthwise_conv = Conv2dSamePadding(oup, oup, k, stride=s, groups=oup, bias=False)
        self._bn1 = nn.BatchNorm2d(oup, eps=LITE_BN_EPS)
        self._project_conv = Conv2dSamePadding(oup, args["output_filters"], 1, bias=False)
        self._bn2 = nn.BatchNorm2d(args["output_filters"], eps=LITE_BN_EPS)
        self._swish = nn.ReLU6()

    def forward(self, inputs):
        x = inputs
        if self.args["expand_ratio"] != 1:
            x = self._swish(self._bn0(self._expand_conv(inputs)))
        x = self._swish(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.args["stride"] == 1 and self.args["input_filters"] == self.args["output_filters"]:
            x = x + inputs
        return x


class EfficientNetLite(nn.Module):
    feature_stages = (2, 4, 6)  # stages ending at strides 8, 16, 32

    def __init__(self, name: str, num_classes: int = 1000):
        super().__init__()
        width, depth, _, dropout = LITE_PARAMS[name]
        blocks_args = [_decode_block(text) for text in LITE_BLOCKS]
        stem = round_filters(32, width, skip=True)  # fix_head_stem
        self._conv_stem = Conv2dSamePadding(3, stem, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(stem, eps=LITE_BN_EPS)
        self._blocks = nn.ModuleList()
        self.tap_blocks: list[int] = []
        for i, args in enumerate(blocks_args):
            args = dict(args, output_filters=round_filters(args["output_filters"], width))
            args["input_filters"] = round_filters(args["input_filters"], width)
            if i in (0, len(blocks_args) - 1):
                if i == 0:
                    args["input_filters"] = 32
            else:
                args["num_repeat"] = round_repeats(args["num_repeat"], depth)
            self._blocks.append(MBConvBlock(args))
            for _ in range(args["num_repeat"] - 1):
                self._blocks.append(MBConvBlock(dict(args, input_filters=args["output_filters"], stride=1)))
            if i in self.feature_stages:
                self.tap_blocks.append(len(self._blocks) - 1)
        head = round_filters(1280, width, skip=True)
        self._conv_head = Conv2dSamePadding(args["output_filters"], head, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(head, eps=LITE_BN_EPS)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(head, num_classes)
        self._swish = nn.ReLU6()

    def forward(self, x):
        x = self._swish(self._bn0(self._conv_stem(x)))
        taps = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.tap_blocks:
                taps.append(x)
        x = self._swish(self._bn1(self._conv_head(x)))
        x = self._dropout(self._avg_pooling(x).flatten(1))
        return (*taps, self._fc(x))


LITE_MEAN = (127.0 / 255, 127.0 / 255, 127.0 / 255)
LITE_STD = (128.0 / 255, 128.0 / 255, 128.0 / 255)


def reference_net(name: str) -> tuple[nn.Module, tuple[float, ...], tuple[float, ...]]:
    """The reference network for a backbone name (untrained) and its input mean/std on a 0..1 scale."""
    if name == "mobilenet_v2":
        return MobileNetV2(), IMAGENET_MEAN, IMAGENET_STD
    return EfficientNetLite(name), LITE_MEAN, LITE_STD
