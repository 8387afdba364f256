"""'Try an image': one uploaded picture through the training backend's predict() (the AutoML v1 gateway calls
PredictionService.Predict of the self-hosted service), its boxes as the page draws them. The image is never
decoded here: the service says whether it is readable, and its own words are what the person sees."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc

from ..training_backend import TrainingBackend

MAX_BOXES = 100
IMAGE_FIELD = "payload.image.image_bytes: "  # how Predict's INVALID_ARGUMENT names the image it refuses
# What the browser may be shown back as a data: URL (anything else still goes to Predict, shown without it).
SHOWN_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp")


class UploadError(ValueError):
    """The upload cannot be tried: the message says why, for the person who sent it."""


@dataclass
class Prediction:
    boxes: list[dict[str, Any]] = field(default_factory=list)  # label, score, x, y, w, h (percent)
    picture: str | None = None  # data: URL of the upload, for drawing the boxes over it


FORM_OVERHEAD_BYTES = 64 * 1024  # the multipart body around the file: the other fields and boundaries


def too_large(limit: int) -> str:
    return f"the file is larger than {limit / 2**20:g} MiB, the limit for trying an image"


def check_upload(data: bytes, limit: int) -> None:
    if len(data) > limit:
        raise UploadError(too_large(limit))
    if not data:
        raise UploadError("choose an image file to upload")


def predict(
    backend: TrainingBackend,
    model: str,
    data: bytes,
    content_type: str,
    score_threshold: float,
    name: str = "",
    deadline_s: float | None = None,
) -> Prediction:
    """Boxes the model finds in `data` at or above score_threshold, through the backend's Predict.
    UploadError with the backend's message when it refuses the image (named by the upload's file name in
    place of the request field) or the model cannot predict; other API errors propagate."""
    try:
        found = backend.predict(model, data, score_threshold, MAX_BOXES, deadline_s)
    except gexc.InvalidArgument as exc:
        raise UploadError(f"{name or 'the file'}: {str(exc.message).removeprefix(IMAGE_FIELD)}") from None
    except (gexc.FailedPrecondition, gexc.NotFound) as exc:
        raise UploadError(f"the model could not predict on this file: {exc.message}") from None
    boxes = [
        {
            "label": b.label,
            "score": round(b.score, 3),
            "x": round(100 * b.box[0], 2),
            "y": round(100 * b.box[1], 2),
            "w": round(100 * max(b.box[2] - b.box[0], 0.0), 2),
            "h": round(100 * max(b.box[3] - b.box[1], 0.0), 2),
        }
        for b in found
    ]
    shown = content_type if content_type in SHOWN_TYPES else None
    picture = f"data:{shown};base64,{base64.b64encode(data).decode()}" if shown else None
    return Prediction(boxes=boxes, picture=picture)
