"""Run an exported TF Lite package with ai-edge-litert (what users deploy; used for the evaluation).

detector = TFLiteDetector(package_dir)          # model.tflite + dict.txt (+ tflite_metadata.json)
result = detector.detect(pil_or_uint8_image)      # boxes yxyx normalized [D, 4], classes [D], scores [D]
# D = count x classesPerDetection: a box in doubt comes once per top class, best first
detector.latency_ms([detector.prepare(image)])   # median invoke time on real images
found, ms = detector.detect_and_time(images)      # detections of each image, latency on the first few
rounds_a, rounds_b = latency_rounds([(a, images_a), (b, images_b)])  # two models, timed in turn
evaluation, ms = evaluate_package(package_dir, examples, labels, cancel)  # AutoML-shaped, on TEST rows
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from ..data.dataset import Example
from ..data.images import load_rgb
from ..diagnostics import write_diagnostics
from ..errors import TrainingCancelled
from ..evaluation import Evaluation, evaluate
from ..types import CancelCheck

# Output names of the serving signature, in the TFLite_Detection_PostProcess order.
OUTPUT_KEYS = ("output_0", "output_1", "output_2", "output_3")  # boxes, classes, scores, count
LATENCY_IMAGES = 8  # images detect_and_time's latency cycles through


@dataclass(frozen=True)
class TFLiteDetections:
    boxes: np.ndarray  # [D, 4] ymin, xmin, ymax, xmax normalized
    classes: np.ndarray  # [D] int class ids (line numbers of dict.txt)
    scores: np.ndarray  # [D]


class TFLiteDetector:
    def __init__(self, package_dir: Path | str, num_threads: int = 2):
        package_dir = Path(package_dir)
        self.model_path = package_dir / "model.tflite"
        labels_path = package_dir / "dict.txt"
        self.labels = labels_path.read_text().splitlines() if labels_path.exists() else []
        self.classes_per_box = _classes_per_box(package_dir / "tflite_metadata.json")
        self._interpreter = Interpreter(model_path=str(self.model_path), num_threads=num_threads)
        self._runner = self._interpreter.get_signature_runner()
        detail = self._interpreter.get_input_details()[0]
        self.input_shape = tuple(int(d) for d in detail["shape"])  # (1, H, W, 3)
        self.input_dtype = detail["dtype"]

    def prepare(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """PIL RGB image or uint8 [h, w, 3] of any size → uint8 [H, W, 3] at the model's input (stretched)."""
        _, height, width, _ = self.input_shape
        bilinear = Image.Resampling.BILINEAR
        if isinstance(image, Image.Image):
            return np.asarray(image.convert("RGB").resize((width, height), bilinear), dtype=np.uint8)
        if image.shape[:2] != (height, width):
            return np.asarray(Image.fromarray(image).resize((width, height), bilinear), dtype=np.uint8)
        return image

    def detect(self, image: Image.Image | np.ndarray) -> TFLiteDetections:
        """image: PIL RGB image or uint8 [h, w, 3] of any size (stretched to the model's input)."""
        out = self._runner(image=self.prepare(image)[None].astype(self.input_dtype))
        boxes, classes, scores, count = (out[k] for k in OUTPUT_KEYS)
        n = int(count.reshape(-1)[0]) * self.classes_per_box  # count counts boxes, not entries
        return TFLiteDetections(
            np.clip(boxes[0, :n], 0.0, 1.0), classes[0, :n].astype(np.int32), scores[0, :n].astype(np.float32)
        )

    def latency_ms(self, images: list[np.ndarray], runs: int = 30, warmup: int = 3) -> float:
        """Median wall time of one invoke (threads as constructed), cycling through `images` (prepared).

        Time real images: the post-processing's cost grows with the candidates above the score threshold,
        e.g. a BCCD model (100 detections) takes 5 ms more at 2 threads than on a constant gray image."""
        batches = [image[None].astype(self.input_dtype) for image in images]
        times = []
        for i in range(warmup + runs):
            batch = batches[i % len(batches)]
            start = time.perf_counter()
            self._runner(image=batch)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000.0)
        return statistics.median(times)

    def detect_and_time(
        self, images: Iterable[Image.Image | np.ndarray], runs: int = 30
    ) -> tuple[list[TFLiteDetections], float]:
        """Detections of every image, then latency_ms on the first LATENCY_IMAGES of them."""
        found: list[TFLiteDetections] = []
        timed: list[np.ndarray] = []
        for image in images:
            ready = self.prepare(image)
            found.append(self.detect(ready))
            if len(timed) < LATENCY_IMAGES:
                timed.append(ready)
        return found, self.latency_ms(timed, runs=runs)


def latency_rounds(
    timed: list[tuple[TFLiteDetector, list[np.ndarray]]], rounds: int = 5, runs: int = 10
) -> list[list[float]]:
    """Each detector's latency_ms on its prepared images, once per round, the detectors timed in turn within
    every round: on a shared machine a load change then hits them all alike, not whichever ran last."""
    measured: list[list[float]] = [[] for _ in timed]
    for _ in range(rounds):
        for i, (detector, images) in enumerate(timed):
            measured[i].append(detector.latency_ms(images, runs=runs))
    return measured


def _classes_per_box(metadata_path: Path) -> int:
    """Entries per detected box (tflite_metadata.json's classesPerDetection); 1 for packages without it."""
    if not metadata_path.exists():
        return 1
    return int(json.loads(metadata_path.read_text()).get("classesPerDetection", 1))


def evaluate_package(
    package_dir: Path, examples: list[Example], labels: list[str], cancel: CancelCheck
) -> tuple[Evaluation, float]:
    """Evaluate the package's TF Lite model on `examples` (original images) and time it at 2 threads on the
    first of them; write the package's diagnostics/ (confusion table and sample predictions, diagnostics.py)
    from the same detections. Raises TrainingCancelled when cancel() turns True between images."""

    def images() -> Iterator[Image.Image]:
        for example in examples:
            if cancel():
                raise TrainingCancelled("training cancelled during evaluation")
            yield load_rgb(example.image_path)

    found, latency = TFLiteDetector(package_dir, num_threads=2).detect_and_time(images())
    predictions = [(det.boxes, det.classes, det.scores) for det in found]
    evaluation = evaluate(examples, labels, predictions)
    write_diagnostics(Path(package_dir) / "diagnostics", examples, labels, predictions)
    return evaluation, latency
