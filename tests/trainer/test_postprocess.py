"""decode_detections lays detections out as TFLite_Detection_PostProcess does: each box kept by
class-agnostic NMS, once per class of its top classes, best first."""

import numpy as np

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.model.postprocess import PostProcessConfig, decode_detections

# Two anchors [yc, xc, h, w] far apart; zero encodings decode to the anchors themselves.
ANCHORS = np.array([[0.25, 0.25, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2]], dtype=np.float32)


def _logits(probabilities):
    p = np.asarray(probabilities, dtype=np.float32)
    return np.log(p / (1 - p))[None]  # [1, anchors, classes]


def _decode(probabilities, **config):
    encodings = np.zeros((1, len(ANCHORS), 4), np.float32)
    return decode_detections(encodings, _logits(probabilities), ANCHORS, PostProcessConfig(**config))[0]


def test_a_box_in_doubt_carries_its_runner_up_class_after_its_best():
    # anchor 0: class 2 at 0.6, class 1 at 0.35 (a ten that may be a nine); anchor 1: class 0 at 0.9
    found = _decode([[0.02, 0.35, 0.6], [0.9, 0.05, 0.03]])
    assert found.classes.tolist() == [0, 1, 2, 1]  # boxes by best score; each box's classes best first
    np.testing.assert_allclose(found.scores, [0.9, 0.05, 0.6, 0.35], rtol=1e-5)
    np.testing.assert_allclose(found.boxes[0], found.boxes[1])
    np.testing.assert_allclose(found.boxes[2], [0.15, 0.15, 0.35, 0.35], atol=1e-6)


def test_one_class_per_box_on_request_and_never_more_classes_than_the_model_has():
    two_boxes = [[0.02, 0.35, 0.6], [0.9, 0.05, 0.03]]
    assert _decode(two_boxes, max_classes_per_detection=1).classes.tolist() == [0, 2]
    single_class = _decode([[0.8], [0.7]], max_classes_per_detection=2)
    assert single_class.classes.tolist() == [0, 0] and len(single_class.scores) == 2
    assert PostProcessConfig(max_classes_per_detection=3).classes_per_box(2) == 2


def test_the_score_threshold_applies_to_a_box_best_class_only():
    found = _decode([[0.02, 0.005, 0.6], [0.004, 0.003, 0.002]], nms_score_threshold=0.01)
    assert found.classes.tolist() == [2, 0]  # the second anchor's best (0.004) is below 0.01: no box
    np.testing.assert_allclose(found.scores, [0.6, 0.02], rtol=1e-5)


def test_post_processing_of_a_trainer_config_and_of_an_older_trainer_json():
    config = TrainerConfig.from_overrides({"classes_per_detection": 1, "score_threshold": 0.05})
    post = PostProcessConfig.from_trainer_config(config.to_dict())
    assert (post.max_classes_per_detection, post.nms_score_threshold) == (1, 0.05)
    # a model directory saved before the setting existed exports with today's default
    older = {k: v for k, v in TrainerConfig().to_dict().items() if k != "classes_per_detection"}
    assert PostProcessConfig.from_trainer_config(older).max_classes_per_detection == 2


def test_boxes_are_suppressed_as_decoded_and_clipped_only_in_the_output():
    """TFLite_Detection_PostProcess runs NMS on the decoded boxes as they are, past the image's edge too
    (found by a test comparing the float32 TF Lite model with this decoding): clipping first made a box that
    reaches past the edge overlap its neighbour more, and suppressed a box the deployed model keeps."""
    anchors = np.array([[1.0, 0.5, 1.0, 0.4], [0.7, 0.5, 0.4, 0.4]], dtype=np.float32)  # y 0.5-1.5, 0.5-0.9
    encodings = np.zeros((1, 2, 4), np.float32)
    found = decode_detections(encodings, _logits([[0.9], [0.8]]), anchors, PostProcessConfig())[0]
    # IoU 0.16 / 0.40 = 0.4 as decoded, under the 0.5 threshold; clipped first it was 0.16 / 0.20 = 0.8
    np.testing.assert_allclose(found.scores, [0.9, 0.8], rtol=1e-5)
    np.testing.assert_allclose(found.boxes, [[0.5, 0.3, 1.0, 0.7], [0.5, 0.3, 0.9, 0.7]], atol=1e-6)
