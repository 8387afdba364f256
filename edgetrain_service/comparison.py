"""After a training (in its worker): which TEST images it was evaluated on (the trainer reports them by
content id, TrainResult.evaluated_images), and, when the CreateModel request named a model in the
`edgetrain-compare-to` label, that model's exported int8 TF Lite evaluated on exactly those images with the
trainer's evaluation code and timed the way the trainer times the new model.

What the caller sees (docs/service.md, "Comparing with an earlier model"):
- labels on the trained model: TEST_IMAGES_LABEL and LATENCY_LABEL always; COMPARED_TEST_IMAGES_LABEL and
  COMPARED_LATENCY_LABEL when the comparison ran;
- the compared model's evaluations beside the model's own: display_name `compared-to:<ID>` (all labels) and
  `compared-to:<ID>:<label>` (one per label the compared model knows; a label it never saw has none).
A compared model that is missing, deleted or unreadable leaves the comparison out, with the reason logged;
the training itself still succeeds.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import artifacts, names
from .config import ServiceConfig
from .errors import FailedPrecondition
from .job_payloads import TrainJob
from .models import KIND
from .resource_labels import (
    COMPARED_LATENCY_LABEL,
    COMPARED_TEST_IMAGES_LABEL,
    LATENCY_LABEL,
    TEST_IMAGES_LABEL,
)
from .store import Store

_LOGGER = logging.getLogger("edgetrain.service.comparison")

COMPARED_PREFIX = "compared-to:"  # display_name of the compared model's evaluations: compared-to:ID[:label]


def images_digest(ids: list[str]) -> str:
    """sha256 of the sorted ids (one per line) in lower-case base32 without padding: 52 characters, a valid
    label value (hex would need 64, one more than labels allow)."""
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


def micros(latency_ms: float) -> str:
    return str(round(latency_ms * 1000))


@dataclass(frozen=True)
class Compared:
    model: str  # the compared model's full name
    evaluation: dict[str, Any]  # AutoML-shaped (edgetrain_trainer.evaluation), perLabel: labels it knows
    latency_ms: float
    images_digest: str
    trained_latency_ms: float  # the trained model's, timed in alternation with latency_ms


def evaluated_digest(result) -> str:
    """images_digest of the images a TrainResult reports its evaluation used."""
    return images_digest([image.image_id for image in result.evaluated_images])


@dataclass(frozen=True)
class EvaluatedImages:
    examples: list  # edgetrain_trainer Example, in the order the trainer evaluated them
    labels: list[str]  # the training's labels (class ids of the examples)
    digest: str


def evaluated_images(request, result) -> EvaluatedImages | None:
    """The examples of the images `result` reports its evaluation used, looked up in the training's data
    snapshot by the name each had there and checked to be the same picture (its id); None, logged, when one
    is missing or another picture."""
    from edgetrain_trainer.data.dataset import load_dataset
    from edgetrain_trainer.data.image_ids import image_id

    by_ref = {example.image_ref: example for example in load_dataset(request.data).examples}
    examples = []
    for image in result.evaluated_images:
        example = by_ref.get(image.image_ref)
        if example is None or image_id(example.image_path) != image.image_id:
            why = "is not in" if example is None else "is another picture in"
            _LOGGER.warning(
                "no comparison: the evaluated image %s (id %s) %s the data snapshot %s",
                image.image_ref,
                image.image_id,
                why,
                request.data,
            )
            return None
        examples.append(example)
    return EvaluatedImages(examples, list(result.labels), evaluated_digest(result))


def compared_model(job: TrainJob) -> str | None:
    """The full name of the model the job's COMPARE_TO_LABEL named: a model id (any case, as label values
    are lower case) or a full model name."""
    wanted = job.compare_to.strip()
    if not wanted:
        return None
    model_id = wanted.rsplit("/", 1)[-1].upper()  # model ids are upper case (names.new_id)
    return f"{names.location_of(job.model)}/models/{model_id}"


def compare(
    store: Store, config: ServiceConfig, model: str, images: EvaluatedImages, trained_package: Path
) -> Compared | None:
    """Evaluate `model`'s exported TF Lite on `images`, and time it in alternation with the trained model's
    package; None, with the reason logged, when it cannot be."""
    from edgetrain_trainer.data.images import load_rgb
    from edgetrain_trainer.evaluation import evaluate
    from edgetrain_trainer.export.tflite_detector import (
        LATENCY_IMAGES,
        TFLiteDetector,
        latency_rounds,
    )

    if store.get_resource(model, KIND) is None:
        why = "deleted, not trained yet, or never trained here"
        _LOGGER.warning("no comparison: model %s does not exist (%s)", model, why)
        return None
    try:
        package = Path(artifacts.read_result(config, names.parse_name(model, "models").id)["package_dir"])
        detector = TFLiteDetector(package, num_threads=2)
        found = [detector.detect(load_rgb(e.image_path)) for e in images.examples]
        trained = TFLiteDetector(trained_package, num_threads=2)
        timed = [load_rgb(e.image_path) for e in images.examples[:LATENCY_IMAGES]]
        pairs = [(d, [d.prepare(image) for image in timed]) for d in (trained, detector)]
        trained_ms, latency_ms = (statistics.median(r) for r in latency_rounds(pairs))
    except (FailedPrecondition, OSError, ValueError, RuntimeError) as error:
        _LOGGER.warning("no comparison: %s's TF Lite package cannot be evaluated: %s", model, error)
        return None
    # its class ids are lines of its own dict.txt: map them to this training's labels by display name
    index = {label: k for k, label in enumerate(images.labels)}
    mapping = np.array([index.get(label, -1) for label in detector.labels], dtype=np.int64)
    predictions = []
    for det in found:
        known = (det.classes >= 0) & (det.classes < len(mapping))
        boxes, ours, scores = det.boxes[known], mapping[det.classes[known]], det.scores[known]
        shared = ours >= 0  # a label this training does not have cannot be right
        predictions.append((boxes[shared], ours[shared], scores[shared]))
    evaluation = evaluate(images.examples, images.labels, predictions).to_dict()
    seen = set(detector.labels)
    evaluation["perLabel"] = [e for e in evaluation["perLabel"] if e["displayName"] in seen]
    return Compared(model, evaluation, latency_ms, images.digest, trained_ms)


def model_labels(result, compared: Compared | None) -> dict[str, str]:
    """What the trained model's labels say about its evaluation and the comparison. With a comparison both
    latencies come from the one measurement in alternation, so they are comparable."""
    latency_ms = compared.trained_latency_ms if compared is not None else result.latency_ms
    labels = {LATENCY_LABEL: micros(latency_ms), TEST_IMAGES_LABEL: evaluated_digest(result)}
    if compared is not None:
        labels[COMPARED_TEST_IMAGES_LABEL] = compared.images_digest
        labels[COMPARED_LATENCY_LABEL] = micros(compared.latency_ms)
    return labels


def compared_name(model: str, label: str = "") -> str:
    """The display_name of the compared model's evaluation (overall when label is empty)."""
    model_id = names.parse_name(model, "models").id
    return f"{COMPARED_PREFIX}{model_id}" + (f":{label}" if label else "")


def label_of(overall: str, evaluation) -> str | None:
    """The label of a per-label ModelEvaluation that goes with the overall one whose display name is
    `overall` ("" for the model's own, compared-to:ID for a compared model's); None for any other."""
    name = evaluation.display_name
    if not evaluation.annotation_spec_id:
        return None
    if overall:
        return name[len(overall) + 1 :] if name.startswith(overall + ":") else None
    return None if name.startswith(COMPARED_PREFIX) else name


def evaluation_entries(
    evaluation: dict[str, Any], specs: dict, compared: str = ""
) -> list[tuple[str, str, int, dict[str, Any]]]:
    """(annotation spec id, display name, evaluated example count, metrics) of the overall evaluation and
    of each label, labels matched to the dataset's annotation specs by display name. `compared`: the
    compared model's name, which the display names then carry."""

    def shown(label: str) -> str:
        return compared_name(compared, label) if compared else label

    entries = [
        (
            "",
            shown(""),
            int(evaluation["evaluatedExampleCount"]),
            evaluation["imageObjectDetectionEvaluationMetrics"],
        )
    ]
    for label in evaluation["perLabel"]:
        spec = specs.get(label["displayName"])
        spec_id = spec.name.rsplit("/", 1)[1] if spec else label["annotationSpecId"]
        entries.append(
            (
                spec_id,
                shown(label["displayName"]),
                int(label["evaluatedExampleCount"]),
                label["imageObjectDetectionEvaluationMetrics"],
            )
        )
    return entries
