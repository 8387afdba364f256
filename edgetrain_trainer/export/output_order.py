"""Put a converted model's outputs in the order of its TFLite_Detection_PostProcess op.

The TF Lite Task Library's ObjectDetector (and most Android/iOS sample apps) read a detector without
metadata by output index: 0 boxes [1,N,4], 1 classes [1,N], 2 scores [1,N], 3 count [1] — the order of the
op's own outputs. Converting from a SavedModel orders the subgraph's outputs some other way (seen:
classes, count, boxes, scores), so the flatbuffer's output list is rewritten; signature names stay.
"""

from __future__ import annotations

from tensorflow.lite.tools import flatbuffer_utils

POSTPROCESS_OP = "TFLite_Detection_PostProcess"


def order_outputs_like_postprocess(tflite_model: bytes) -> bytes:
    """`tflite_model` with subgraph 0's outputs set to the post-processing op's outputs, in the op's order.

    Raises ValueError when the model has no such op or when its outputs are not exactly the model's outputs
    (then no reordering could give the Task Library's contract)."""
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite_model))
    subgraph = model.subgraphs[0]
    custom_codes = {
        index
        for index, code in enumerate(model.operatorCodes)
        if code.customCode is not None and _text(code.customCode) == POSTPROCESS_OP
    }
    ops = [op for op in subgraph.operators if op.opcodeIndex in custom_codes]
    if len(ops) != 1:
        raise ValueError(f"expected one {POSTPROCESS_OP} op in the model, found {len(ops)}")
    op_outputs = [int(i) for i in ops[0].outputs]
    if sorted(op_outputs) != sorted(int(i) for i in subgraph.outputs):
        raise ValueError(f"the model's outputs are not exactly the outputs of {POSTPROCESS_OP}")
    subgraph.outputs = op_outputs
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
