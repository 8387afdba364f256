"""Box overlap on boxes decoded from the head's encodings, for the GIoU box loss (losses.py).

The head still predicts the centre-size encodings (ty, tx, th, tw) that TFLite_Detection_PostProcess decodes
(box_coding.BoxCoder); these functions decode them inside the training graph so a loss can act on the boxes
themselves. Boxes are yxyx (ymin, xmin, ymax, xmax), normalized; anchors are centre-size (yc, xc, h, w).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .box_coding import DEFAULT_CODER, BoxCoder

# Bound on the decoded log-size offset (th / h_scale): exp(4) = 55 × the anchor. The head starts at 0, but a
# wild step early in training must not overflow exp() into inf boxes and NaN gradients.
MAX_LOG_SCALE = 4.0


def decode_tf(encodings, anchors, coder: BoxCoder = DEFAULT_CODER) -> tf.Tensor:
    """encodings [..., N, 4] (ty, tx, th, tw), anchors [N, 4] centre-size → boxes [..., N, 4] yxyx.
    anchors may also be one per encoding ([P, 4] for encodings [P, 4])."""
    enc = tf.cast(encodings, tf.float32)
    anchors = tf.constant(np.asarray(anchors, np.float32)) if not tf.is_tensor(anchors) else anchors
    ya, xa, ha, wa = tf.unstack(anchors, axis=-1)
    yc = enc[..., 0] / coder.y_scale * ha + ya
    xc = enc[..., 1] / coder.x_scale * wa + xa
    h = tf.exp(tf.clip_by_value(enc[..., 2] / coder.h_scale, -MAX_LOG_SCALE, MAX_LOG_SCALE)) * ha
    w = tf.exp(tf.clip_by_value(enc[..., 3] / coder.w_scale, -MAX_LOG_SCALE, MAX_LOG_SCALE)) * wa
    return tf.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)


def iou_and_giou(a, b, eps: float = 1e-9) -> tuple[tf.Tensor, tf.Tensor]:
    """Element-wise IoU and generalized IoU (Rezatofighi et al., 2019) of boxes a, b [..., 4] yxyx.

    GIoU = IoU - (enclosing area - union) / enclosing area, in [-1, 1]; unlike IoU it has a gradient when
    the boxes do not overlap."""
    a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
    area_a = tf.maximum(a[..., 2] - a[..., 0], 0.0) * tf.maximum(a[..., 3] - a[..., 1], 0.0)
    area_b = tf.maximum(b[..., 2] - b[..., 0], 0.0) * tf.maximum(b[..., 3] - b[..., 1], 0.0)
    inter_h = tf.maximum(tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]), 0.0)
    inter_w = tf.maximum(tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = inter_h * inter_w
    union = area_a + area_b - inter
    iou = inter / (union + eps)
    hull_h = tf.maximum(a[..., 2], b[..., 2]) - tf.minimum(a[..., 0], b[..., 0])
    hull_w = tf.maximum(a[..., 3], b[..., 3]) - tf.minimum(a[..., 1], b[..., 1])
    hull = hull_h * hull_w
    return iou, iou - (hull - union) / (hull + eps)
