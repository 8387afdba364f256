"""Export a trained detector: TF Lite (int8 full-integer or float32) with TFLite_Detection_PostProcess,
and TF SavedModel.

The TF Lite model is the TF Lite Task Library ObjectDetector contract that AutoML Vision Edge shipped:
uint8 input [1, H, W, 3]; outputs boxes [1, N, 4] (ymin, xmin, ymax, xmax normalized), classes [1, N],
scores [1, N], count [1], all float32. Each kept box fills classes_per_box consecutive entries (its top
classes, best first), so N = max_detections x classes_per_box and count counts boxes. The converter reads
a SavedModel (TFLiteConverter.from_saved_model) whose detector is frozen to constants (the int8 calibrator
cannot read variables); the post-processing op is an empty tf.function whose `experimental_implements`
names the TF Lite custom op (as the TF Object Detection API exports SSD models). The SavedModel export
format (real TF post-processing) goes through keras.export.ExportArchive instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from ..errors import TrainingCancelled
from ..model.box_coding import DEFAULT_CODER, BoxCoder
from ..model.postprocess import DEFAULT_POSTPROCESS, PostProcessConfig
from ..types import CancelCheck
from .output_order import POSTPROCESS_OP, order_outputs_like_postprocess


def _postprocess_fn(num_classes: int, coder: BoxCoder, config: PostProcessConfig):
    attrs = {
        "max_detections": f"i: {config.max_detections}",
        "max_classes_per_detection": f"i: {config.classes_per_box(num_classes)}",
        "detections_per_class": f"i: {config.detections_per_class}",
        "use_regular_nms": f"b: {str(config.use_regular_nms).lower()}",
        "nms_score_threshold": f"f: {config.nms_score_threshold:f}",
        "nms_iou_threshold": f"f: {config.nms_iou_threshold:f}",
        "num_classes": f"i: {num_classes}",
        "y_scale": f"f: {coder.y_scale:f}",
        "x_scale": f"f: {coder.x_scale:f}",
        "h_scale": f"f: {coder.h_scale:f}",
        "w_scale": f"f: {coder.w_scale:f}",
    }
    signature = " ".join(
        [f'name: "{POSTPROCESS_OP}"'] + [f'attr {{ key: "{k}" value {{ {v} }} }}' for k, v in attrs.items()]
    )

    # The body is a placeholder: the converter replaces the whole function by the custom op.
    @tf.function(experimental_implements=signature)
    def postprocess(box_encodings, class_scores, anchors):
        del box_encodings, class_scores, anchors
        boxes = tf.constant(0.0, dtype=tf.float32, name="boxes")
        classes = tf.constant(0.0, dtype=tf.float32, name="classes")
        scores = tf.constant(0.0, dtype=tf.float32, name="scores")
        count = tf.constant(0.0, dtype=tf.float32, name="num_detections")
        return boxes, classes, scores, count

    return postprocess


def _tf_postprocess_fn(num_classes: int, coder: BoxCoder, config: PostProcessConfig):
    """The same outputs as TFLite_Detection_PostProcess (fast NMS: class-agnostic NMS on each anchor's best
    class score, then each kept box once per class of its top classes_per_box) in plain TF ops, for
    SavedModel exports that run outside TF Lite. Batch size 1."""
    per_box = config.classes_per_box(num_classes)
    slots = config.max_detections * per_box

    def postprocess(box_encodings, class_scores, anchors):
        enc, scores_all = box_encodings[0], class_scores[0]
        ya, xa, ha, wa = tf.unstack(anchors, axis=1)
        yc = enc[:, 0] / coder.y_scale * ha + ya
        xc = enc[:, 1] / coder.x_scale * wa + xa
        h = tf.exp(enc[:, 2] / coder.h_scale) * ha
        w = tf.exp(enc[:, 3] / coder.w_scale) * wa
        boxes = tf.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1)  # NMS on them as decoded
        top_scores, top_classes = tf.math.top_k(scores_all, k=per_box)  # [N, per_box], best first
        keep = tf.image.non_max_suppression(
            boxes,
            top_scores[:, 0],
            config.max_detections,
            config.nms_iou_threshold,
            config.nms_score_threshold,
        )
        count = tf.shape(keep)[0]
        pad = slots - count * per_box
        kept = tf.clip_by_value(tf.gather(boxes, keep), 0.0, 1.0)
        out_boxes = tf.pad(tf.repeat(kept, per_box, axis=0), [[0, pad], [0, 0]])
        out_classes = tf.pad(tf.cast(tf.reshape(tf.gather(top_classes, keep), [-1]), tf.float32), [[0, pad]])
        out_scores = tf.pad(tf.reshape(tf.gather(top_scores, keep), [-1]), [[0, pad]])
        return out_boxes[None], out_classes[None], out_scores[None], tf.cast(count, tf.float32)[None]

    return postprocess


def write_inference_saved_model(
    detector: keras.Model,
    anchors: np.ndarray,
    num_classes: int,
    input_size: int,
    dest: Path,
    input_dtype: tf.DType,
    coder: BoxCoder = DEFAULT_CODER,
    config: PostProcessConfig = DEFAULT_POSTPROCESS,
) -> Path:
    """A SavedModel for TF Serving / TF whose `serving_default` maps an image [1, S, S, 3] (0..255,
    `input_dtype`) to the four post-processed outputs (output_0..3: boxes, classes, scores, count), the
    post-processing in real TF ops. Returns `dest`."""
    postprocess = _tf_postprocess_fn(num_classes, coder, config)
    anchor_tensor = tf.constant(anchors, dtype=tf.float32)

    def serve(image):
        box_encodings, logits = detector(tf.cast(image, tf.float32), training=False)
        return postprocess(box_encodings, tf.sigmoid(logits), anchor_tensor)

    archive = keras.export.ExportArchive()
    archive.track(detector)
    archive.add_endpoint(
        "serving_default", serve, input_signature=[tf.TensorSpec([1, input_size, input_size, 3], input_dtype)]
    )
    archive.write_out(str(dest), verbose=False)
    return dest


def _write_converter_saved_model(
    detector: keras.Model,
    anchors: np.ndarray,
    num_classes: int,
    input_size: int,
    dest: Path,
    input_dtype: tf.DType,
    config: PostProcessConfig,
) -> Path:
    """The SavedModel the TF Lite converter reads: `serving_default` maps an image [1, S, S, 3] (0..255,
    `input_dtype`) through the detector, frozen to constants, to the post-processing placeholder
    (output_0..3).

    Only the detector is frozen: freezing inlines every function call, the placeholder's included, and the
    converter would no longer see the op it implements. A module holding constants saves in a few seconds,
    where ExportArchive walks and serializes every Keras layer; the converted flatbuffer is the same."""
    size = [1, input_size, input_size, 3]

    @tf.function(input_signature=[tf.TensorSpec(size, tf.float32)])
    def network(image):
        box_encodings, logits = detector(image, training=False)
        return box_encodings, tf.sigmoid(logits)

    frozen = convert_variables_to_constants_v2(network.get_concrete_function())
    postprocess = _postprocess_fn(num_classes, DEFAULT_CODER, config)
    anchor_tensor = tf.constant(anchors, dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec(size, input_dtype, name="image")])
    def serve(image):
        box_encodings, scores = frozen(tf.cast(image, tf.float32))
        return postprocess(box_encodings, scores, anchor_tensor)

    module = tf.Module()
    module.serve = serve
    tf.saved_model.save(module, str(dest), signatures={"serving_default": serve.get_concrete_function()})
    return dest


def convert_to_tflite(
    detector: keras.Model,
    anchors: np.ndarray,
    num_classes: int,
    input_size: int,
    quantization: str,
    calibration_images: Iterable[np.ndarray] | None = None,
    config: PostProcessConfig = DEFAULT_POSTPROCESS,
    cancel: CancelCheck | None = None,
) -> bytes:
    """The TF Lite flatbuffer. int8: full-integer quantization calibrated on `calibration_images`
    (uint8 [S, S, 3] each, training images); the uint8 input carries raw pixel values (scale 1, zero point 0).
    float32: float weights, the uint8 input is cast in the graph.

    cancel() is checked between the steps and before each calibration image (calibration is most of an
    int8 conversion); once it returns True, TrainingCancelled is raised."""

    def check(step: str) -> None:
        if cancel is not None and cancel():
            raise TrainingCancelled(f"cancelled during TF Lite export ({step})")

    with tempfile.TemporaryDirectory(prefix="edgetrain-export-") as tmp:
        check("start")
        if quantization == "int8":
            images = list(calibration_images or [])
            if not images:
                raise ValueError("int8 quantization needs calibration images")
            saved = _write_converter_saved_model(
                detector, anchors, num_classes, input_size, Path(tmp) / "sm", tf.float32, config
            )
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
            converter.optimizations = [tf.lite.Optimize.DEFAULT]

            def representative():
                for img in images:
                    # The converter calls this generator from Python, so the exception stops it here.
                    check("int8 calibration")
                    yield [img[None].astype(np.float32)]

            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
            converter.inference_input_type = tf.uint8
        elif quantization == "float32":
            saved = _write_converter_saved_model(
                detector, anchors, num_classes, input_size, Path(tmp) / "sm", tf.uint8, config
            )
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        else:
            raise ValueError(f"quantization {quantization!r} must be 'int8' or 'float32'")
        check("SavedModel written")
        converter.allow_custom_ops = True
        flatbuffer = converter.convert()
        check("converted")
        return order_outputs_like_postprocess(flatbuffer)
