"""Decoding of raw head outputs into detections, mirroring the exported TFLite_Detection_PostProcess
(fast NMS: best class per anchor, class-agnostic NMS). Used by validation during training, never inside
the training graph."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .box_coding import DEFAULT_CODER, BoxCoder


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
    coder: BoxCoder = DEFAULT_CODER,
    max_detections: int = 100,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.01,
) -> list[Detections]:
    """box_encodings [B, N, 4], class_logits [B, N, K] → one Detections per image."""
    boxes = np.clip(coder.decode(np.asarray(box_encodings), anchors), 0.0, 1.0)
    scores_all = 1.0 / (1.0 + np.exp(-np.asarray(class_logits, dtype=np.float32)))
    out = []
    for b in range(boxes.shape[0]):
        classes = scores_all[b].argmax(axis=1)
        scores = scores_all[b][np.arange(len(classes)), classes]
        keep = tf.image.non_max_suppression(
            boxes[b], scores, max_detections, iou_threshold=iou_threshold, score_threshold=score_threshold
        ).numpy()
        out.append(Detections(boxes[b][keep], classes[keep].astype(np.int32), scores[keep]))
    return out
