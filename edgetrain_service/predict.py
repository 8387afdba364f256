"""PredictionService.Predict for edge models: runs the model's TF Lite package on one image."""

from __future__ import annotations

import io
import math
import threading
from typing import Any

from . import names
from .artifacts import read_result
from .config import ServiceConfig
from .datasets import annotation_specs
from .errors import FailedPrecondition, invalid_field
from .image_limits import MAX_IMAGE_PIXELS, too_many_pixels
from .models import get_model
from .protos import DeploymentState, PredictResponse
from .store import Store

DEFAULT_SCORE_THRESHOLD = 0.5  # AutoML's default for object detection
DEFAULT_MAX_BOXES = 100
# Decodes and model runs at once: with 40 MP images each holds up to ~120 MB, so the server's memory stays
# bounded however many Predict requests arrive together (the rest wait their turn).
PREDICT_SLOTS = 2
IMAGE_FIELD = "payload.image.image_bytes"
# Plain words in place of Pillow's own, which name the Python object it read from.
UNREADABLE = "not a readable image"
UNKNOWN_FORMAT = (
    f"{UNREADABLE}: the bytes are not in an image format the service decodes (such as JPEG, PNG, GIF, BMP "
    "or WebP), or the image's header is damaged"
)
CORRUPT = f"{UNREADABLE}: the image data is truncated or corrupt"


def _float_param(params, key: str, default: float) -> float:
    try:
        return float(params.get(key, default))
    except ValueError as error:
        raise invalid_field(f"params.{key}", f"{params[key]!r} is not a number") from error


def _decode(data: bytes):
    """RGB pixels of an image in the request; INVALID_ARGUMENT for one that is not an image or too large."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise invalid_field(
            IMAGE_FIELD, f"image has more than {MAX_IMAGE_PIXELS:,} pixels, the limit"
        ) from error
    except UnidentifiedImageError as error:
        raise invalid_field(IMAGE_FIELD, UNKNOWN_FORMAT) from error
    except (OSError, ValueError, SyntaxError) as error:  # a known format's header that does not parse
        raise invalid_field(IMAGE_FIELD, CORRUPT) from error
    problem = too_many_pixels(*image.size)
    if problem:
        raise invalid_field(IMAGE_FIELD, problem)
    try:
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as error:  # how Pillow reports truncated or corrupt data
        raise invalid_field(IMAGE_FIELD, CORRUPT) from error


class Predictor:
    """Keeps one loaded TF Lite detector per model (loaded on first use)."""

    def __init__(self, store: Store, config: ServiceConfig):
        self.store = store
        self.config = config
        self._detectors: dict[str, tuple[Any, threading.Lock]] = {}  # TFLiteDetector, its lock
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(PREDICT_SLOTS)

    def _detect(self, model_id: str, image):
        """Run the model's detector, one call at a time (a TF Lite interpreter is not thread-safe)."""
        with self._lock:
            if model_id not in self._detectors:
                from edgetrain_trainer.export.tflite_detector import TFLiteDetector

                package = read_result(self.config, model_id)["package_dir"]
                self._detectors[model_id] = (TFLiteDetector(package), threading.Lock())
            detector, lock = self._detectors[model_id]
        with lock:
            return detector, detector.detect(image)

    def predict(self, request):
        model = get_model(self.store, request.name)
        if model.deployment_state == DeploymentState.UNDEPLOYED:
            raise FailedPrecondition(f"Model {model.name} is not deployed; deploy it before Predict.")
        if not request.payload.image.image_bytes:
            raise invalid_field("payload.image.image_bytes", "is required")
        threshold = _float_param(request.params, "score_threshold", DEFAULT_SCORE_THRESHOLD)
        max_boxes = _float_param(request.params, "max_bounding_box_count", DEFAULT_MAX_BOXES)
        if not (math.isfinite(max_boxes) and max_boxes >= 0 and max_boxes == int(max_boxes)):
            raise invalid_field(
                "params.max_bounding_box_count", f"{max_boxes:g} must be a whole number, 0 or more"
            )
        if not 0 <= threshold <= 1:
            raise invalid_field("params.score_threshold", f"{threshold} must be between 0 and 1")
        model_id = names.parse_name(model.name, "models").id
        with self._slots:
            detector, found = self._detect(model_id, _decode(request.payload.image.image_bytes))
        specs = annotation_specs(self.store, f"{names.location_of(model.name)}/datasets/{model.dataset_id}")
        response = PredictResponse()
        order = [i for i in found.scores.argsort()[::-1] if found.scores[i] >= threshold][: int(max_boxes)]
        for i in order:
            class_id = int(found.classes[i])
            label = detector.labels[class_id] if class_id < len(detector.labels) else str(class_id)
            spec = specs.get(label)
            payload = response.payload.add(display_name=label)
            payload.annotation_spec_id = spec.name.rsplit("/", 1)[1] if spec else str(class_id)
            box = payload.image_object_detection
            box.score = float(found.scores[i])
            ymin, xmin, ymax, xmax = (float(v) for v in found.boxes[i])
            box.bounding_box.normalized_vertices.add(x=xmin, y=ymin)
            box.bounding_box.normalized_vertices.add(x=xmax, y=ymax)
        return response
