"""Warm start: a training that begins from an earlier model's weights (TrainRequest.init_from) instead of
the ImageNet backbone and a fresh head.

    source = find_warm_start(Path("runs/champion"), "mobile-low-latency-1")  # no TensorFlow needed
    note = load_warm_start(source, backbone, head, labels)  # "…: 5 of 6 labels known, new: ten"

The earlier model must be of the same model type (same backbone and head layout). Every weight is copied
except the class predictor's, which is copied per label: a label both models know keeps its rows, a new
label keeps the rows the fresh head was built with (default initialisation, prior bias), and a label the
earlier model had but this dataset lacks is dropped. The input size may differ: no weight depends on it.

Its trainer.json lists the ids (data/image_ids.py) of every image its weights were trained on
(`trained_images`; a warm-started model's include its source's). The loaded weights' validation score is the
bar the training must beat only when no validation image is among them (why_no_bar): a picture they trained
on scores higher than a new one, so such a bar would keep the loaded weights against a training that
generalises better.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError

CLASS_PREDICTOR = "class_net_predict"  # model/detector.py names the class net's predictor this way
MODEL_FILES = ("trainer.json", "detector.weights.h5")


@dataclass(frozen=True)
class WarmStartSource:
    """A trained model folder (TrainResult.model_dir) that a training may start from."""

    model_dir: Path
    model_type: str
    labels: list[str]
    trained_images: frozenset[str] | None  # None: a model from before the record, they are unknown


def find_warm_start(path: Path | str, model_type: str) -> WarmStartSource:
    """The model folder at `path`: TrainResult.model_dir itself, or the out_dir of the training that wrote
    it (its model/ folder). Raises InvalidArgumentError (field init_from) when there is none or when its
    model type is not `model_type`."""
    path = Path(path)
    for folder in (path, path / "model"):
        if all((folder / name).is_file() for name in MODEL_FILES):
            break
    else:
        raise InvalidArgumentError(
            f"init_from: {path} holds no trained model (expected trainer.json and detector.weights.h5 "
            "there or in its model/ folder: a training's out_dir or its TrainResult.model_dir)"
        )
    try:
        info = json.loads((folder / "trainer.json").read_text())
        found_type, labels = info["spec"]["name"], list(info["labels"])
        trained = info.get("trained_images")
        trained = None if trained is None else frozenset(str(image) for image in trained)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidArgumentError(f"init_from: {folder / 'trainer.json'} is unreadable ({error})") from None
    if found_type != model_type:
        raise InvalidArgumentError(
            f"init_from: {folder} is a {found_type} model; a {model_type} training can only start from a "
            f"{model_type} model (the backbone and head must match)"
        )
    return WarmStartSource(folder, found_type, labels, trained)


def why_no_bar(source: WarmStartSource, validation_seen: int, validation_count: int) -> str:
    """Why the loaded weights' validation score is no fair bar to beat; '' when it is (no validation image is
    one they were trained on)."""
    if source.trained_images is None:
        return f"{source.model_dir} does not say which images it was trained on"
    if validation_seen:
        return f"it was trained on {validation_seen} of the {validation_count} validation images"
    return ""


def trained_images(source: WarmStartSource | None, own: set[str]) -> list[str] | None:
    """The ids a model's weights were trained on: its own training images and, warm-started, every image its
    source's weights were trained on (None when those are unknown)."""
    if source is None:
        return sorted(own)
    if source.trained_images is None:
        return None
    return sorted(own | source.trained_images)


def load_warm_start(source: WarmStartSource, backbone: Any, head: Any, labels: list[str]) -> str:
    """Copy the weights of `source` into `backbone` and `head` (keras Models built for `labels`).
    Returns a line saying which labels were known, new and dropped. Raises InvalidArgumentError when the
    architectures differ."""
    from ..export.package import load_model_dir  # TensorFlow: only once a training runs

    earlier = load_model_dir(source.model_dir)
    old_backbone, old_head = earlier.detector.layers[1], earlier.detector.layers[2]
    _copy(old_backbone.get_weights(), backbone, source.model_dir)
    old_by_name = {layer.name: layer for layer in old_head.layers}
    for layer in head.layers:
        if not layer.weights:
            continue
        old = old_by_name.get(layer.name)
        if old is None:
            raise InvalidArgumentError(f"init_from: {source.model_dir} has no head layer {layer.name!r}")
        if layer.name == CLASS_PREDICTOR:
            layer.set_weights(class_rows(old.get_weights(), layer.get_weights(), earlier.labels, labels))
        else:
            _copy(old.get_weights(), layer, source.model_dir)
    kept = [label for label in labels if label in earlier.labels]
    added = [label for label in labels if label not in earlier.labels]
    dropped = [label for label in earlier.labels if label not in labels]
    return (
        f"warm start from {source.model_dir}: {len(kept)} of {len(labels)} labels known"
        + (f", new: {', '.join(added)}" if added else "")
        + (f", dropped: {', '.join(dropped)}" if dropped else "")
    )


def class_rows(
    old: list[np.ndarray], fresh: list[np.ndarray], old_labels: list[str], labels: list[str]
) -> list[np.ndarray]:
    """The class predictor's weights for `labels`: a label of `old_labels` takes its old outputs, any other
    keeps its `fresh` ones. The predictor is a separable conv: [depthwise kernel, pointwise kernel
    [1, 1, C, A*K], bias [A*K]] with output channel a*K + k for anchor a and class k (detector.py reshapes
    it to [.., A, K]); the depthwise kernel does not depend on the classes and is copied whole."""
    depthwise, old_pointwise, old_bias = old
    _, pointwise, bias = (np.array(w) for w in fresh)
    k_old, k_new = len(old_labels), len(labels)
    anchors = pointwise.shape[-1] // k_new
    if old_pointwise.shape[-1] != anchors * k_old or depthwise.shape != fresh[0].shape:
        raise InvalidArgumentError(
            "init_from: the earlier model's class predictor does not fit this model type's head "
            f"({old_pointwise.shape[-1]} outputs for {k_old} labels)"
        )
    old_index = {label: i for i, label in enumerate(old_labels)}
    for k, label in enumerate(labels):
        if label in old_index:
            new_cols = np.arange(anchors) * k_new + k
            old_cols = np.arange(anchors) * k_old + old_index[label]
            pointwise[..., new_cols] = old_pointwise[..., old_cols]
            bias[new_cols] = old_bias[old_cols]
    return [depthwise, pointwise, bias]


def _copy(weights: list[np.ndarray], layer: Any, model_dir: Path) -> None:
    expected = [tuple(w.shape) for w in layer.weights]
    if [tuple(w.shape) for w in weights] != expected:
        raise InvalidArgumentError(
            f"init_from: the weights of {layer.name!r} in {model_dir} do not fit this model type's layout"
        )
    layer.set_weights(weights)
