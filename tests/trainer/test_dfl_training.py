"""A short real training with box_loss "giou+dfl" (cards_small, smallest settings) → an int8 TF Lite package
with the task-library contract, whose graph carries the bins' expectation and places boxes where Keras does,
and a float32 export that reproduces the Keras detections of the model rebuilt from its model directory."""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from edgetrain_trainer.data.augment import resize_square
from edgetrain_trainer.data.dataset import load_dataset
from edgetrain_trainer.data.images import load_rgb
from edgetrain_trainer.data.rows import TEST
from edgetrain_trainer.export.package import export_model, load_model_dir
from edgetrain_trainer.export.tflite_detector import TFLiteDetector
from edgetrain_trainer.model.box_bins import BinExpectation
from edgetrain_trainer.model.box_coding import iou_matrix
from edgetrain_trainer.model.postprocess import PostProcessConfig, decode_detections
from edgetrain_trainer.train import train
from edgetrain_trainer.types import TrainRequest
from tests.trained import CARDS_SMALL, MODEL_TYPE

pytestmark = pytest.mark.slow

OVERRIDES = {
    "box_loss": "giou+dfl",
    "dfl_bins": 17,
    "dfl_range": 4.0,
    # as tests/trained.py: head epochs enough to find the cards, one fine-tuning epoch (both stages run)
    "head_max_epochs": 12,
    "finetune_max_epochs": 1,
    "cache_views": 3,
    "calibration_images": 8,
    "max_eval_images": 6,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    request = TrainRequest(
        data=CARDS_SMALL / "annotations.csv",
        out_dir=tmp_path_factory.mktemp("dfl") / "out",
        model_type=MODEL_TYPE,
        budget_milli_node_hours=1000,
        seed=1,
        overrides=OVERRIDES,
    )
    return train(request)


@pytest.fixture(scope="module")
def test_images():
    return [load_rgb(e.image_path) for e in load_dataset(CARDS_SMALL / "annotations.csv").split(TEST)[:4]]


def test_int8_package_keeps_the_uint8_in_four_out_contract_and_carries_the_expectation(trained, test_images):
    path = trained.package_dir / "model.tflite"
    interpreter = Interpreter(model_path=str(path), num_threads=2)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    assert inp["dtype"] == np.uint8 and inp["shape"].tolist() == [1, 320, 320, 3]
    outputs = interpreter.get_signature_runner()(image=resize_square(test_images[0], 320)[None])
    boxes, classes, scores, count = (outputs[f"output_{i}"] for i in range(4))
    assert boxes.shape == (1, 200, 4) and classes.shape == (1, 200) and scores.shape == (1, 200)
    assert count.shape == (1,) and {a.dtype for a in (boxes, scores, count)} == {np.dtype(np.float32)}
    ops = [d["op_name"] for d in interpreter._get_ops_details()]
    assert "TFLite_Detection_PostProcess" in ops
    assert "SOFTMAX" in ops  # the bins' expectation is part of the exported graph
    found = TFLiteDetector(trained.package_dir).detect(test_images[0])
    assert len(found.scores) > 0 and np.all((found.boxes >= 0) & (found.boxes <= 1))
    assert trained.size_bytes == path.stat().st_size and trained.latency_ms > 0


def _keras_detections(model_dir, images):
    model = load_model_dir(model_dir)
    assert model.config["box_loss"] == "giou+dfl"
    assert isinstance(model.detector.layers[2].get_layer("box_net"), BinExpectation)
    batch = np.stack([resize_square(im, 320) for im in images]).astype(np.float32)
    box_enc, logits = model.detector(batch, training=False)
    assert box_enc.shape[-1] == 4 and np.abs(np.asarray(box_enc)).max() <= 4.0 + 1e-5  # within the bins
    post = PostProcessConfig.from_trainer_config(model.config)
    return decode_detections(np.asarray(box_enc), np.asarray(logits), model.anchors, post)


def test_int8_boxes_sit_where_keras_puts_them(trained, test_images):
    """Each image's top Keras box has an int8 twin overlapping it closely: quantizing the softmax over the
    bins and their expectation keeps the boxes (the twins' IoU came out 0.90–0.99 when this was written)."""
    tflite = TFLiteDetector(trained.package_dir)
    for image, keras_det in zip(test_images, _keras_detections(trained.model_dir, test_images), strict=True):
        assert len(keras_det.scores) > 0
        lite = tflite.detect(image)
        assert iou_matrix(lite.boxes, keras_det.boxes[:1]).max() > 0.8


def test_model_dir_rebuilds_the_bins_and_float32_tflite_reproduces_keras(trained, test_images, tmp_path):
    keras_found = _keras_detections(trained.model_dir, test_images)
    tflite = TFLiteDetector(export_model(trained.model_dir, "tflite", tmp_path / "f", quantization="float32"))
    compared = 0
    for image, keras_det in zip(test_images, keras_found, strict=True):
        lite = tflite.detect(image)
        top = min(5, len(keras_det.scores))
        compared += top
        np.testing.assert_allclose(lite.scores[:top], keras_det.scores[:top], atol=2e-3)
        np.testing.assert_allclose(lite.boxes[:top], keras_det.boxes[:top], atol=2e-3)
    assert compared > 0
