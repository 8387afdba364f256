"""The detection post-processing every path shares: the attributes of the exported
TFLite_Detection_PostProcess op, and a NumPy decoding of raw head outputs that mirrors it (fast NMS:
class-agnostic NMS on each anchor's best class score, then each kept box's top classes). Validation during
training decodes with it, so the epochs are chosen on what the deployed model outputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from ..config import TrainerConfig
from .box_coding import DEFAULT_CODER, BoxCoder


@dataclass(frozen=True)
class PostProcessConfig:
    """Attributes of TFLite_Detection_PostProcess.

    max_detections: boxes kept per image. max_classes_per_detection: classes output for each kept box, best
    first, as that many consecutive entries; the outputs then hold max_detections x that many entries and
    `count` counts boxes, not entries. nms_score_threshold: lowest best-class score kept: low, since boxes
    below it are lost to mAP, but every anchor above it costs NMS time (TrainerConfig.score_threshold's
    comment); a box's later classes may score below it. use_regular_nms: per-class NMS instead of fast NMS
    (one entry per kept box and class, detections_per_class per class). Unused: under ai-edge-litert 2.3 the
    int8 BCCD model's regular NMS output none of its last class's boxes (docs/lab-notes.md, 2026-12-06).
    """

    max_detections: int = 100
    max_classes_per_detection: int = TrainerConfig.classes_per_detection
    detections_per_class: int = 100
    nms_score_threshold: float = TrainerConfig.score_threshold
    nms_iou_threshold: float = 0.5
    use_regular_nms: bool = False

    def classes_per_box(self, num_classes: int) -> int:
        """Entries per kept box for a model of `num_classes` classes (the op fills at most that many; the
        export asks for no more, so no entry is left unwritten). Regular NMS outputs one entry per kept
        (box, class) pair and counts entries."""
        if self.use_regular_nms:
            return 1
        return max(1, min(self.max_classes_per_detection, num_classes))

    @classmethod
    def from_trainer_config(cls, config: Mapping[str, Any]) -> PostProcessConfig:
        """The post-processing a trainer config asks for (TrainerConfig.to_dict(), or the copy in a model
        directory's trainer.json: settings it predates take today's defaults)."""
        defaults = TrainerConfig()
        return cls(
            max_detections=config.get("max_detections", defaults.max_detections),
            max_classes_per_detection=config.get("classes_per_detection", defaults.classes_per_detection),
            nms_iou_threshold=config.get("nms_iou_threshold", defaults.nms_iou_threshold),
            nms_score_threshold=config.get("score_threshold", defaults.score_threshold),
        )


DEFAULT_POSTPROCESS = PostProcessConfig()


@dataclass(frozen=True)
class Detections:
    """One image's detections: boxes [D, 4] yxyx normalized, classes [D] int, scores [D] float."""

    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray


def decode_detections(
    box_encodings: np.ndarray,
    class_logits: np.ndarray,
    anchors: np.ndarray,
    config: PostProcessConfig = DEFAULT_POSTPROCESS,
    coder: BoxCoder = DEFAULT_CODER,
) -> list[Detections]:
    """box_encodings [B, N, 4], class_logits [B, N, K] → one Detections per image, laid out like the TF Lite
    outputs: each kept box (best first) once per class of its top classes_per_box(K), best class first."""
    boxes = coder.decode(np.asarray(box_encodings), anchors)  # NMS compares them as decoded, as the op does
    scores_all = 1.0 / (1.0 + np.exp(-np.asarray(class_logits, dtype=np.float32)))
    per_box = config.classes_per_box(scores_all.shape[-1])
    out = []
    for b in range(boxes.shape[0]):
        top_classes = np.argsort(-scores_all[b], axis=1, kind="stable")[:, :per_box]  # [N, per_box]
        top_scores = np.take_along_axis(scores_all[b], top_classes, axis=1)
        keep = tf.image.non_max_suppression(
            boxes[b],
            top_scores[:, 0],
            config.max_detections,
            iou_threshold=config.nms_iou_threshold,
            score_threshold=config.nms_score_threshold,
        ).numpy()
        out.append(
            Detections(
                np.repeat(np.clip(boxes[b][keep], 0.0, 1.0), per_box, axis=0),
                top_classes[keep].reshape(-1).astype(np.int32),
                top_scores[keep].reshape(-1),
            )
        )
    return out
