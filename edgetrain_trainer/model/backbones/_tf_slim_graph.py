"""The MobileNetV2 weights inside a frozen TF Object Detection API graph, as a torchvision-style state dict.

An SSD(Lite)-MobileNetV2 exported by the TF Object Detection API keeps its backbone's TF-slim variables as
constants named FeatureExtractor/MobilenetV2/<layer>/...: BatchNorm is not folded (gamma, beta, moving mean
and variance are separate constants), so every conv + BatchNorm pair maps onto one of torchvision's
features.N parameter groups, and `_mobilenet_v2.build` fills the Keras graph from them as from a PyTorch
file. Only features.0–17 are read: Conv_1 (the 1280-channel conv, torchvision's features.18) and the SSD
extra layers (layer_19_*) are not part of the C3–C5 backbone.

TF-slim -> torchvision names (block k of expanded_conv_k is features.{k+1}):
    Conv                         -> features.0.0 (conv), features.0.1 (BatchNorm)
    expanded_conv/depthwise      -> features.1.conv.0.{0,1}        (the first block has no expansion)
    expanded_conv/project        -> features.1.conv.{1,2}
    expanded_conv_k/expand       -> features.{k+1}.conv.0.{0,1}
    expanded_conv_k/depthwise    -> features.{k+1}.conv.1.{0,1}
    expanded_conv_k/project      -> features.{k+1}.conv.{2,3}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import WeightsError

SCOPE = "FeatureExtractor/MobilenetV2/"
_BLOCKS = 17
# Constants under SCOPE that belong to the SSD head side, not to features.0–17.
_NOT_BACKBONE = ("Conv_1/", "layer_19_")
_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def _slim_to_torch_prefixes() -> dict[str, tuple[str, str]]:
    """TF-slim layer scope -> (torchvision conv prefix, BatchNorm prefix)."""
    prefixes = {
        "Conv": ("features.0.0", "features.0.1"),
        "expanded_conv/depthwise": ("features.1.conv.0.0", "features.1.conv.0.1"),
        "expanded_conv/project": ("features.1.conv.1", "features.1.conv.2"),
    }
    for block in range(1, _BLOCKS):
        torch_block = f"features.{block + 1}.conv"
        prefixes[f"expanded_conv_{block}/expand"] = (f"{torch_block}.0.0", f"{torch_block}.0.1")
        prefixes[f"expanded_conv_{block}/depthwise"] = (f"{torch_block}.1.0", f"{torch_block}.1.1")
        prefixes[f"expanded_conv_{block}/project"] = (f"{torch_block}.2", f"{torch_block}.3")
    return prefixes


def _torch_kernel(name: str, kernel: np.ndarray) -> np.ndarray:
    if name.endswith("/depthwise_weights"):  # TF [kh, kw, C, 1] -> torch [C, 1, kh, kw]
        return kernel.transpose(2, 3, 0, 1)
    return kernel.transpose(3, 2, 0, 1)  # TF [kh, kw, in, out] -> torch [out, in, kh, kw]


def _torch_key(name: str, prefixes: dict[str, tuple[str, str]]) -> str | None:
    """The torchvision key of one TF-slim constant (name relative to SCOPE), None if it is not a weight."""
    layer, _, leaf = name.rpartition("/")
    if leaf in ("weights", "depthwise_weights") and layer in prefixes:
        return f"{prefixes[layer][0]}.weight"
    bn_layer, _, bn = layer.rpartition("/")
    if bn == "BatchNorm" and leaf in _BN and bn_layer in prefixes:
        return f"{prefixes[bn_layer][1]}.{_BN[leaf]}"
    return None


def read_graph_constants(path: Path, scope: str = SCOPE) -> dict[str, np.ndarray]:
    """Every constant of the frozen GraphDef at `path` under `scope` (names without it), as float32."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef()
    try:
        graph.ParseFromString(path.read_bytes())
    except Exception as error:  # protobuf's DecodeError and friends: all mean "not a GraphDef"
        raise WeightsError(f"{path} is not a readable frozen TensorFlow graph: {error}") from error
    return {
        node.name[len(scope) :]: tf.make_ndarray(node.attr["value"].tensor).astype(np.float32)
        for node in graph.node
        if node.op == "Const" and node.name.startswith(scope)
    }


def mobilenet_v2_state_dict(path: Path) -> dict[str, np.ndarray]:
    """features.0–17 of the MobileNetV2 in the frozen graph at `path`, keyed and laid out as torchvision's.

    Raises WeightsError if a backbone constant has no torchvision counterpart or one is missing: the graph
    is then not a TF-slim MobileNetV2 at depth multiplier 1.0 under SCOPE.
    """
    constants = read_graph_constants(path)
    prefixes = _slim_to_torch_prefixes()
    state: dict[str, np.ndarray] = {}
    unknown = []
    for name, value in constants.items():
        if name.startswith(_NOT_BACKBONE):
            continue
        key = _torch_key(name, prefixes)
        if key is None:
            unknown.append(name)
        elif key.endswith(".weight") and value.ndim == 4:
            state[key] = _torch_kernel(name, value)
        else:
            state[key] = value
    if unknown:
        raise WeightsError(f"{path}: constants under {SCOPE} with no MobileNetV2 counterpart: {unknown[:8]}")
    expected = 4 * len(prefixes) + len(prefixes)  # 4 BatchNorm arrays + 1 kernel per conv
    if len(state) != expected:
        raise WeightsError(
            f"{path}: found {len(state)} of the {expected} MobileNetV2 arrays under {SCOPE}; it is not a "
            "TF-slim MobileNetV2 (depth multiplier 1.0) exported by the TF Object Detection API"
        )
    return state
