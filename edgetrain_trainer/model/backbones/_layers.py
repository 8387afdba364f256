"""Keras building blocks of the ported backbones, recording which PyTorch parameters fill each layer.

Every weighted layer is created through `PortedGraph`, which remembers the PyTorch state-dict prefix it
mirrors ("features.2.conv.1.0", "_blocks.3._bn1"...). `PortedGraph.load` then copies a state dict into the
finished Keras model in one pass and fails on any missing, extra or mis-shaped parameter (the equivalent of
PyTorch's load_state_dict(strict=True)). Only ops that TF Lite quantizes to int8 are used: Conv2D,
DepthwiseConv2D, BatchNormalization (folded by the converter), ReLU6, Add, Pad, Mul/Add (Rescaling).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from ...errors import WeightsError

# PyTorch parameter suffixes in the order Keras' layer.get_weights() lists the matching arrays.
_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _layer_name(prefix: str) -> str:
    return prefix.strip("_").replace("._", "_").replace(".", "_")


def _to_keras(layer: keras.layers.Layer, arrays: list[np.ndarray]) -> list[np.ndarray]:
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # torch [C, 1, kh, kw] -> keras [kh, kw, C, 1]
        return [arrays[0].transpose(2, 3, 0, 1)]
    if isinstance(layer, keras.layers.Conv2D):  # torch [out, in, kh, kw] -> keras [kh, kw, in, out]
        return [arrays[0].transpose(2, 3, 1, 0)]
    if isinstance(layer, keras.layers.Dense):  # torch [out, in] -> keras [in, out]
        return [arrays[0].T, arrays[1]]
    return arrays


class PortedGraph:
    """Functional-graph builder for one PyTorch network.

    bn_epsilon: the epsilon the PyTorch BatchNorm layers used (it changes the output, so it must match).
    tf_same_padding: True for networks trained in TensorFlow with padding='same' (strided convs pad more at
    the bottom/right); False for PyTorch networks whose strided convs pad kernel//2 on every side.
    """

    def __init__(self, *, bn_epsilon: float, tf_same_padding: bool):
        self.bn_epsilon = bn_epsilon
        self.tf_same_padding = tf_same_padding
        self._sources: list[tuple[keras.layers.Layer, str, tuple[str, ...]]] = []

    def _track(self, layer: keras.layers.Layer, prefix: str, suffixes: tuple[str, ...]) -> keras.layers.Layer:
        self._sources.append((layer, prefix, suffixes))
        return layer

    def conv_bn(
        self,
        x,
        filters: int | None,
        kernel: int,
        stride: int,
        conv_prefix: str,
        bn_prefix: str,
        *,
        relu6: bool = True,
    ):
        """Conv (no bias) + BatchNorm (+ ReLU6). filters=None makes the conv depthwise."""
        name = _layer_name(conv_prefix)
        padding = "same"
        if stride > 1 and kernel > 1 and not self.tf_same_padding:
            x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
            padding = "valid"
        if filters is None:
            conv = keras.layers.DepthwiseConv2D(kernel, stride, padding=padding, use_bias=False, name=name)
        else:
            conv = keras.layers.Conv2D(filters, kernel, stride, padding=padding, use_bias=False, name=name)
        x = self._track(conv, conv_prefix, ("weight",))(x)
        bn = keras.layers.BatchNormalization(epsilon=self.bn_epsilon, name=_layer_name(bn_prefix))
        x = self._track(bn, bn_prefix, _BN_KEYS)(x)
        if relu6:
            x = keras.layers.ReLU(max_value=6.0, name=f"{_layer_name(bn_prefix)}_relu6")(x)
        return x

    def dense(self, x, units: int, prefix: str):
        return self._track(keras.layers.Dense(units, name=_layer_name(prefix)), prefix, ("weight", "bias"))(x)

    def load(self, state: dict[str, np.ndarray], *, ignored_prefixes: Sequence[str] = ()) -> None:
        """Copy `state` into the tracked layers. Parameters under `ignored_prefixes` (a classifier head the
        backbone does not build) may stay unused; any other unused, missing or mis-shaped one is an error."""
        used: set[str] = set()
        for layer, prefix, suffixes in self._sources:
            keys = [f"{prefix}.{suffix}" for suffix in suffixes]
            missing = [key for key in keys if key not in state]
            if missing:
                raise WeightsError(f"the weights file lacks {missing} needed by layer {layer.name!r}")
            arrays = _to_keras(layer, [state[key] for key in keys])
            expected = [tuple(weight.shape) for weight in layer.weights]
            if [a.shape for a in arrays] != expected:
                raise WeightsError(
                    f"weights {keys} have shapes {[a.shape for a in arrays]} after conversion, layer "
                    f"{layer.name!r} expects {expected}"
                )
            layer.set_weights(arrays)
            used.update(keys)
        ignored = tuple(ignored_prefixes)
        unused = sorted(key for key in state if key not in used and not key.startswith(ignored))
        if unused:
            raise WeightsError(f"the weights file has parameters the network does not use: {unused[:8]}")


def normalize(x, mean: Sequence[float], std: Sequence[float]):
    """(x - mean) / std per RGB channel, for 0..255 inputs, kept in the graph so uint8 images can be fed."""
    mean_array = np.asarray(mean, dtype=np.float32)
    std_array = np.asarray(std, dtype=np.float32)
    return keras.layers.Rescaling(scale=1.0 / std_array, offset=-mean_array / std_array, name="normalize")(x)


def residual_add(shortcut, x, prefix: str):
    return keras.layers.Add(name=f"{_layer_name(prefix)}_add")([shortcut, x])
