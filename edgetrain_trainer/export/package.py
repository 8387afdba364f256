"""The trained model directory (what later exports need) and the export packages built from it.

model_dir: trainer.json (model type, architecture, labels, config), detector.weights.h5 (all weights),
calibration.npy (uint8 training images for int8 calibration) and, once evaluated, evaluation.json.

    export_model(model_dir, "tflite", dest_dir)  # model.tflite, dict.txt, tflite_metadata.json
    export_model(model_dir, "tf_saved_model", dest_dir)  # SavedModel, uint8 input, same four outputs
Every export is written to a temporary sibling directory and renamed into place, so `dest_dir` either does
not exist or holds a complete package.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..errors import FailedPreconditionError, InvalidArgumentError
from ..model.anchors import DEFAULT_ANCHORS, AnchorConfig, generate_anchors
from ..model.backbones import build_backbone
from ..model.catalog import ModelTypeSpec
from ..model.detector import backbone_feature_shapes, build_detector, build_head
from ..model.postprocess import PostProcessConfig
from ..types import EXPORT_FORMATS, CancelCheck
from .metadata import with_metadata
from .staging import check_destination, staged_directory
from .tflite import convert_to_tflite, write_inference_saved_model

TFLITE_OUTPUTS = ["bounding_boxes", "class_labels", "class_confidences", "num_of_boxes"]


def save_model_dir(
    model_dir: Path,
    detector: keras.Model,
    spec: ModelTypeSpec,
    labels: list[str],
    config: dict[str, Any],
    calibration: np.ndarray,
    trained_images: list[str] | None,
) -> None:
    """trained_images: the ids of the images the weights were trained on (None: unknown), which a warm
    start from this model reads (training/warm_start.py)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    detector.save_weights(model_dir / "detector.weights.h5")
    np.save(model_dir / "calibration.npy", calibration)
    info = {
        "spec": asdict(spec),
        "labels": labels,
        "anchors": asdict(DEFAULT_ANCHORS),
        "config": config,
        "trained_images": trained_images,
    }
    (model_dir / "trainer.json").write_text(json.dumps(info, indent=2))


@dataclass
class TrainedModel:
    detector: keras.Model
    spec: ModelTypeSpec
    labels: list[str]
    config: dict[str, Any]
    anchors: np.ndarray  # [N, 4] center-size, the layout the model was trained with


def load_model_dir(model_dir: Path) -> TrainedModel:
    """Rebuild the detector (no ImageNet weights needed: every weight comes from the file)."""
    info_path = Path(model_dir) / "trainer.json"
    if not info_path.exists():
        raise InvalidArgumentError(f"model_dir: {model_dir} holds no trained model (no trainer.json)")
    info = json.loads(info_path.read_text())
    spec = ModelTypeSpec(**info["spec"])
    backbone = build_backbone(spec.backbone, spec.input_size, weights=False)
    head = build_head(backbone_feature_shapes(backbone), spec, len(info["labels"]))
    detector = build_detector(backbone, head, spec.input_size)
    detector.load_weights(Path(model_dir) / "detector.weights.h5")
    anchor_config = AnchorConfig(
        **{**info["anchors"], "aspect_ratios": tuple(info["anchors"]["aspect_ratios"])}
    )
    anchors = generate_anchors(spec.input_size, anchor_config)
    return TrainedModel(detector, spec, info["labels"], info["config"], anchors)


def write_tflite_package(
    dest: Path,
    detector: keras.Model,
    spec: ModelTypeSpec,
    labels: list[str],
    quantization: str,
    calibration: np.ndarray,
    post: PostProcessConfig,
    anchors: np.ndarray,
    cancel: CancelCheck | None = None,
) -> None:
    """model.tflite, dict.txt and tflite_metadata.json into `dest` (created). Raises TrainingCancelled
    once cancel() returns True (convert_to_tflite says when it is checked)."""
    dest.mkdir(parents=True, exist_ok=True)
    flatbuffer = convert_to_tflite(
        detector, anchors, len(labels), spec.input_size, quantization, list(calibration), post, cancel
    )
    write_labels(dest / "dict.txt", labels)
    per_box = post.classes_per_box(len(labels))
    (dest / "model.tflite").write_bytes(with_metadata(flatbuffer, spec, dest / "dict.txt", per_box))
    metadata = {
        "modelType": spec.name,
        "backbone": spec.backbone,
        "inferenceType": "QUANTIZED_UINT8" if quantization == "int8" else "FLOAT32",
        "quantization": quantization,
        "inputShape": [1, spec.input_size, spec.input_size, 3],
        "inputType": "uint8",
        "inputTensor": "image",
        "inputRange": [0, 255],
        "labels": labels,
        "maxDetections": post.max_detections,
        # entries per detected box (its top classes, best first): outputs hold maxDetections x this many
        # entries, and num_of_boxes counts boxes
        "classesPerDetection": per_box,
        "outputTensorRepresentation": TFLITE_OUTPUTS,
        "outputTensors": ["output_0", "output_1", "output_2", "output_3"],
        "boxFormat": "ymin,xmin,ymax,xmax normalized",
        "postProcessing": "TFLite_Detection_PostProcess",
        "tfliteMetadata": True,  # TF Lite Metadata inside model.tflite (export/metadata.py)
    }
    (dest / "tflite_metadata.json").write_text(json.dumps(metadata, indent=2))


def export_model(
    model_dir: Path | str,
    fmt: str,
    dest_dir: Path | str,
    quantization: str = "int8",
    cancel: CancelCheck | None = None,
) -> Path:
    """Export a trained model (TrainResult.model_dir) in `fmt` into `dest_dir` (must not exist, or be empty).
    Returns dest_dir. tf_js raises FailedPreconditionError (tensorflowjs needs TF 2.19, not 2.21); a TF Lite
    export raises TrainingCancelled once cancel() returns True, leaving nothing in dest_dir."""
    model_dir, dest_dir = Path(model_dir), Path(dest_dir)
    if fmt not in EXPORT_FORMATS:
        raise InvalidArgumentError(f"modelFormat: {fmt!r} must be one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "tf_js":
        raise FailedPreconditionError(
            "modelFormat: tf_js export is unavailable: the tensorflowjs converter requires TensorFlow 2.19 "
            "and cannot be installed beside this trainer's TensorFlow 2.21; export tflite or tf_saved_model"
        )
    if quantization not in ("int8", "float32"):
        raise InvalidArgumentError(f"quantization: {quantization!r} must be 'int8' or 'float32'")
    check_destination(dest_dir, "dest_dir")
    model = load_model_dir(model_dir)
    detector, spec, labels, config = model.detector, model.spec, model.labels, model.config
    with staged_directory(dest_dir) as tmp:
        if fmt == "tflite":
            calibration = np.load(model_dir / "calibration.npy")
            write_tflite_package(
                tmp,
                detector,
                spec,
                labels,
                quantization,
                calibration,
                PostProcessConfig.from_trainer_config(config),
                model.anchors,
                cancel,
            )
            evaluation = model_dir / "evaluation.json"
            if evaluation.exists():
                shutil.copy(evaluation, tmp / "evaluation.json")
        else:
            write_inference_saved_model(
                detector,
                model.anchors,
                len(labels),
                spec.input_size,
                tmp / "sm",
                tf.uint8,
                config=PostProcessConfig.from_trainer_config(config),
            )
            for item in (tmp / "sm").iterdir():
                item.rename(tmp / item.name)
            (tmp / "sm").rmdir()
            write_labels(tmp / "dict.txt", labels)
    return dest_dir


def write_labels(path: Path, labels: list[str]) -> None:
    """dict.txt: one label per line, in class-id order."""
    path.write_text("".join(f"{label}\n" for label in labels))
