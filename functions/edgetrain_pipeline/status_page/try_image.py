""" "Try an image": one uploaded picture through PredictionService.Predict of the self-hosted AutoML v1
service (the official client), its boxes as the page draws them. The image is never decoded here: the
service says whether it is readable, and its INVALID_ARGUMENT message is what the page shows."""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc

from ..automl_channel import insecure_channel
from ..config import Settings

PREDICT_TIMEOUT_S = 60.0
MAX_BOXES = 100
# What the browser may be shown back as a data: URL (anything else still goes to Predict, shown without it).
UNREADABLE = "not a readable image"  # how the service's Predict words an image it cannot decode
SHOWN_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp")


class UploadError(ValueError):
    """The upload cannot be tried: the message says why, for the person who sent it."""


@dataclass
class Prediction:
    boxes: list[dict[str, Any]] = field(default_factory=list)  # label, score, x, y, w, h (percent)
    picture: str | None = None  # data: URL of the upload, for drawing the boxes over it


_clients: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()


def _client(settings: Settings):
    from google.cloud import automl_v1
    from google.cloud.automl_v1.services.prediction_service.transports import PredictionServiceGrpcTransport

    key = (settings.automl_endpoint or "", settings.automl_token)
    with _lock:
        if key not in _clients:
            channel = insecure_channel(settings.automl_endpoint or "", settings.automl_token)
            _clients[key] = automl_v1.PredictionServiceClient(
                transport=PredictionServiceGrpcTransport(channel=channel)
            )
        return _clients[key]


def supported(settings: Settings) -> bool:
    return settings.training_backend == "automl-v1" and bool(settings.automl_endpoint)


FORM_OVERHEAD_BYTES = 64 * 1024  # the multipart body around the file: the other fields and boundaries


def too_large(limit: int) -> str:
    return f"the file is larger than {limit / 2**20:g} MiB, the limit for trying an image"


def check_upload(data: bytes, limit: int) -> None:
    if len(data) > limit:
        raise UploadError(too_large(limit))
    if not data:
        raise UploadError("choose an image file to upload")


def predict(
    settings: Settings, model: str, data: bytes, content_type: str, score_threshold: float, name: str = ""
) -> Prediction:
    """Boxes the model finds in `data` at or above score_threshold. UploadError when the service cannot read
    the image (its message) or the model cannot predict; other API errors propagate."""
    from google.cloud import automl_v1

    request = automl_v1.PredictRequest(
        name=model,
        payload=automl_v1.ExamplePayload(image=automl_v1.Image(image_bytes=data)),
        params={"score_threshold": f"{score_threshold:g}", "max_bounding_box_count": str(MAX_BOXES)},
    )
    try:
        response = _client(settings).predict(request=request, timeout=PREDICT_TIMEOUT_S)
    except gexc.InvalidArgument as exc:
        if UNREADABLE in str(exc.message):  # the decoder's own words (a Python repr) help nobody here
            raise UploadError(
                f"{name or 'the file'} is {UNREADABLE}: it is not a picture the service can decode"
            ) from None
        raise UploadError(f"the model could not predict on this file: {exc.message}") from None
    except (gexc.FailedPrecondition, gexc.NotFound) as exc:
        raise UploadError(f"the model could not predict on this file: {exc.message}") from None
    boxes = []
    for annotation in response.payload:
        vertices = annotation.image_object_detection.bounding_box.normalized_vertices
        if len(vertices) < 2:
            continue
        (x0, y0), (x1, y1) = (vertices[0].x, vertices[0].y), (vertices[1].x, vertices[1].y)
        boxes.append(
            {
                "label": annotation.display_name,
                "score": round(float(annotation.image_object_detection.score), 3),
                "x": round(100 * x0, 2),
                "y": round(100 * y0, 2),
                "w": round(100 * max(x1 - x0, 0.0), 2),
                "h": round(100 * max(y1 - y0, 0.0), 2),
            }
        )
    shown = content_type if content_type in SHOWN_TYPES else None
    picture = f"data:{shown};base64,{base64.b64encode(data).decode()}" if shown else None
    return Prediction(boxes=boxes, picture=picture)
