"""Load a TF.js graph model (model.json + bin) and run it in TensorFlow as the reference."""

import json

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

DT = {"float32": np.float32, "int32": np.int32}


def load(path):
    m = json.load(open(path))
    d = path.rsplit("/", 1)[0]
    buf = b"".join(open(f"{d}/{p}", "rb").read() for g in m["weightsManifest"] for p in g["paths"])
    values, off = {}, 0
    for g in m["weightsManifest"]:
        for w in g["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q and q["dtype"] == "float16":
                a = np.frombuffer(buf, np.float16, n, off).astype(np.float32)
                off += 2 * n
            elif q:
                raise ValueError(q)
            else:
                dt = DT[w["dtype"]]
                a = np.frombuffer(buf, dt, n, off).copy()
                off += n * np.dtype(dt).itemsize
            values[w["name"]] = a.reshape(w["shape"])
    assert off == len(buf), (off, len(buf))
    return m, values


def reference_fn(path, fetches=None):
    m, values = load(path)
    gd = tf.compat.v1.GraphDef()
    json_format.ParseDict(m["modelTopology"], gd, ignore_unknown_fields=True)
    for node in gd.node:
        if node.op == "Const" and node.name in values:
            v = values[node.name]
            if "/Where" in node.name:  # TF's Where yields int64; TF.js stored it as int32
                v = v.astype(np.int64)
                node.attr["dtype"].type = tf.int64.as_datatype_enum
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(v))
    # the head's class scores and box distributions per level (NCHW), before the TF.js output reshapes
    outs = fetches or [
        f"PartitionedCall/onnx_tf_prefix_{k}"
        for k in (
            "Sigmoid_154:0",
            "Split_153:1",
            "Sigmoid_165:0",
            "Split_164:1",
            "Sigmoid_176:0",
            "Split_175:1",
        )
    ]
    inp = list(m["signature"]["inputs"])[0]
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    sess = tf.compat.v1.Session(graph=g)

    def fn(x):
        return sess.run(outs, {inp: x})

    return fn, outs, values, m
