"""Distribution focal loss and the box net's bins (model/box_bins.py): DFL on hand-computed targets, the
expectation layer's round trip, the loss's wiring, the head's training view and the config's checks."""

import numpy as np
import pytest
import tensorflow as tf

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.errors import InvalidArgumentError
from edgetrain_trainer.model.anchors import AnchorConfig, num_anchors
from edgetrain_trainer.model.box_bins import BinExpectation, BoxBins, box_bins_for, distribution_focal_loss
from edgetrain_trainer.model.box_coding import BACKGROUND_CLASS, BoxCoder
from edgetrain_trainer.model.catalog import MODEL_TYPE_SPECS
from edgetrain_trainer.model.detector import BOX_LOGITS, build_head, training_models
from edgetrain_trainer.model.losses import DetectionLoss

ANCHORS = np.array([[0.5, 0.5, 0.2, 0.2], [0.3, 0.3, 0.1, 0.2], [0.7, 0.7, 0.3, 0.3]], np.float32)
# values -2, -1, 0, 1, 2: Δ = 1
FIVE = BoxBins(count=5, limit=2.0)


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    return x - np.log(np.exp(x).sum())


def test_bin_values_span_the_range_evenly():
    np.testing.assert_allclose(FIVE.values, [-2, -1, 0, 1, 2])
    assert FIVE.step == 1.0
    np.testing.assert_allclose(BoxBins(17, 4.0).values[[0, 8, 16]], [-4, 0, 4])
    assert BoxBins(17, 4.0).step == 0.5


def test_dfl_on_a_bin_between_two_and_outside_the_range():
    row = [0.0, 1.0, 2.0, 1.0, 0.0]
    log_p = _log_softmax(row)
    # ty exactly on the value 1 (bin 3); tx = 0.25, a quarter of the way from 0 (bin 2) to 1 (bin 3);
    # th = 3 clipped to the last value, 2 (bin 4); tw = -2, the first value (bin 0)
    targets = np.array([[1.0, 0.25, 3.0, -2.0]], np.float32)
    expected = np.mean([-log_p[3], -(0.75 * log_p[2] + 0.25 * log_p[3]), -log_p[4], -log_p[0]])
    logits = np.array([row * 4], np.float32)  # [1, 4 × 5]
    got = distribution_focal_loss(logits, targets, FIVE).numpy()
    assert got.shape == (1,)
    assert got[0] == pytest.approx(expected, rel=1e-6)


def test_dfl_is_lowest_for_the_two_bin_distribution_of_the_target():
    target = np.array([[0.25, 0.25, 0.25, 0.25]], np.float32)
    two_bin = np.log(np.array([1e-9, 1e-9, 0.75, 0.25, 1e-9], np.float32))
    peaked_on_bin = np.log(np.array([1e-9, 1e-9, 1.0, 1e-9, 1e-9], np.float32))
    best = distribution_focal_loss(np.tile(two_bin, 4)[None], target, FIVE).numpy()[0]
    other = distribution_focal_loss(np.tile(peaked_on_bin, 4)[None], target, FIVE).numpy()[0]
    # the minimum is the entropy of (0.75, 0.25)
    assert best == pytest.approx(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), rel=1e-4)
    assert other > best + 1.0


def _two_bin_logits(encodings: np.ndarray, bins: BoxBins) -> np.ndarray:
    """[N, 4] encodings → [1, N, 4 × count] logits whose softmax is each encoding's two-bin distribution."""
    position = (np.clip(encodings, -bins.limit, bins.limit) + bins.limit) / bins.step
    left = np.clip(np.floor(position), 0, bins.count - 2).astype(int)
    p = np.full((*encodings.shape, bins.count), 1e-12)
    np.put_along_axis(p, left[..., None], (1 - (position - left))[..., None], axis=-1)
    np.put_along_axis(p, left[..., None] + 1, (position - left)[..., None], axis=-1)
    return np.log(np.maximum(p, 1e-12)).reshape(1, len(encodings), -1).astype(np.float32)


def test_expectation_layer_round_trips_an_encoding():
    bins = BoxBins(17, 4.0)
    boxes = np.array([[0.35, 0.4, 0.62, 0.58], [0.2, 0.1, 0.4, 0.5], [0.6, 0.6, 0.85, 0.75]], np.float32)
    encodings = BoxCoder().encode(boxes, ANCHORS)
    encodings = np.concatenate([encodings, [[-4.0, 4.0, 0.0, 0.5]]]).astype(np.float32)  # ends and bins
    assert np.abs(encodings).max() <= 4.0
    layer = BinExpectation(bins.count, bins.limit)
    got = np.asarray(layer(_two_bin_logits(encodings, bins)))
    assert got.shape == (1, 4, 4)
    np.testing.assert_allclose(got[0], encodings, atol=1e-5)
    np.testing.assert_allclose(BoxCoder().decode(got[0, :3], ANCHORS), boxes, atol=1e-5)
    # equal logits: the expectation is 0, the anchor itself (what a fresh box net predicts)
    np.testing.assert_allclose(np.asarray(layer(np.zeros((2, 4, 68), np.float32))), 0.0, atol=1e-6)


def _targets():
    boxes = np.array([[0.35, 0.4, 0.62, 0.58], [0.2, 0.1, 0.4, 0.5], [0, 0, 0, 0]], np.float32)
    box_targets = BoxCoder().encode(boxes, ANCHORS)
    box_targets[2] = 0
    return np.array([[1, 0, BACKGROUND_CLASS]]), box_targets[None]


def test_giou_dfl_adds_the_weighted_dfl_of_the_positives_only():
    class_targets, box_targets = _targets()
    loss = DetectionLoss(2, box_loss="giou+dfl", anchors=ANCHORS, dfl_bins=17, dfl_range=4.0, dfl_weight=0.5)
    bins = BoxBins(17, 4.0)
    box_logits = _two_bin_logits(box_targets[0], bins)
    box_logits[0, 2] = np.linspace(-9, 9, 68)  # a wild background anchor costs nothing
    box_pred = np.asarray(BinExpectation(17, 4.0)(box_logits))
    class_logits = np.zeros((1, 3, 2), np.float32)
    got = float(loss(class_targets, box_targets, box_pred, class_logits, box_logits=box_logits)["box"])
    dfl = distribution_focal_loss(box_logits[0, :2], box_targets[0, :2], bins).numpy()
    # GIoU of the exact boxes is 0; two positives normalize the sum
    assert got == pytest.approx(0.5 * dfl.sum() / 2, abs=1e-5)
    with pytest.raises(ValueError, match="needs the box net's bin logits"):
        loss(class_targets, box_targets, box_pred, class_logits)


def test_training_the_bin_logits_fits_the_boxes():
    class_targets, box_targets = _targets()
    loss = DetectionLoss(2, box_loss="giou+dfl", anchors=ANCHORS)
    expectation = BinExpectation(17, 4.0)
    box_logits = tf.Variable(np.zeros((1, 3, 68), np.float32))
    class_logits = tf.Variable(np.zeros((1, 3, 2), np.float32))
    optimizer = tf.keras.optimizers.Adam(0.1)
    losses = []
    for _ in range(80):
        with tf.GradientTape() as tape:
            box_pred = expectation(box_logits)
            total = loss(class_targets, box_targets, box_pred, class_logits, box_logits=box_logits)["total"]
        grads = tape.gradient(total, [box_logits, class_logits])
        optimizer.apply_gradients(zip(grads, [box_logits, class_logits], strict=True))
        losses.append(float(total))
    assert np.isfinite(losses).all() and losses[-1] < 0.3 * losses[0]
    np.testing.assert_allclose(np.asarray(expectation(box_logits))[0, :2], box_targets[0, :2], atol=0.1)


def test_head_with_bins_outputs_expected_encodings_and_its_training_view_the_logits():
    spec = MODEL_TYPE_SPECS["mobile-low-latency-1"]
    shapes = [(8, 8, 16), (4, 4, 24), (2, 2, 32)]  # a 64 px input
    n = num_anchors(64, AnchorConfig())
    head = build_head(shapes, spec, 3, box_bins=BoxBins(17, 4.0))
    features = [np.random.default_rng(0).normal(size=(2, *s)).astype(np.float32) for s in shapes]
    boxes, classes = head(features)
    assert boxes.shape == (2, n, 4) and classes.shape == (2, n, 3)
    # the predictor starts with a zero bias and a small kernel: the expectations start near 0, the anchors
    np.testing.assert_allclose(np.asarray(boxes), 0.0, atol=1e-2)
    predictor = head.get_layer("box_net_predict")
    depthwise, pointwise, bias = predictor.get_weights()
    bias = bias.reshape(-1, 4, 17)
    bias[..., 12] = 20.0  # every encoding's mass on the value 2
    predictor.set_weights([depthwise, pointwise, bias.reshape(-1)])
    np.testing.assert_allclose(np.asarray(head(features)[0]), 2.0, atol=1e-4)
    assert head.get_layer(BOX_LOGITS).output.shape[-1] == 4 * 17


def test_training_models_share_the_head_and_add_the_logits():
    from edgetrain_trainer.model.backbones import build_backbone
    from edgetrain_trainer.model.detector import backbone_feature_shapes, build_detector

    spec = MODEL_TYPE_SPECS["mobile-low-latency-1"]
    backbone = build_backbone(spec.backbone, 128, weights=False)
    plain = build_head(backbone_feature_shapes(backbone), spec, 2)
    plain_detector = build_detector(backbone, plain, 128)
    assert training_models(backbone, plain, plain_detector) == (plain, plain_detector)

    head = build_head(backbone_feature_shapes(backbone), spec, 2, box_bins=BoxBins(9, 2.0))
    detector = build_detector(backbone, head, 128)
    train_head, train_detector = training_models(backbone, head, detector)
    image = np.random.default_rng(1).uniform(0, 255, (1, 128, 128, 3)).astype(np.float32)
    boxes, classes, logits = train_detector(image)
    n = num_anchors(128, AnchorConfig())
    assert logits.shape == (1, n, 36) and boxes.shape == (1, n, 4)
    np.testing.assert_allclose(np.asarray(BinExpectation(9, 2.0)(logits)), np.asarray(boxes), atol=1e-6)
    # the views train the very variables the inference models read
    assert {id(v) for v in train_detector.trainable_variables} == {
        id(v) for v in detector.trainable_variables
    }
    assert len(train_head.outputs) == 3 and len(head.outputs) == 2


def test_box_bins_follow_the_config():
    assert box_bins_for(TrainerConfig().to_dict()) is None  # the default recipe: no bins
    assert box_bins_for({"box_loss": "giou"}) is None  # a trainer.json from before the bins
    config = TrainerConfig.from_overrides({"box_loss": "giou+dfl", "dfl_bins": 9, "dfl_range": 3})
    assert box_bins_for(config.to_dict()) == BoxBins(9, 3.0)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"dfl_bins": 1}, "dfl_bins must be ≥ 2, got 1"),
        ({"dfl_range": 0}, "dfl_range must be > 0, got 0.0"),
        ({"dfl_weight": -1}, "dfl_weight must be > 0, got -1.0"),
        ({"dfl_bins": 16.5}, "dfl_bins must be int"),
        ({"box_loss": "dfl"}, "box_loss must be one of .*'giou\\+dfl'.*, got 'dfl'"),
    ],
)
def test_bad_dfl_settings_are_rejected(overrides, message):
    with pytest.raises(InvalidArgumentError, match=message):
        TrainerConfig.from_overrides(overrides)
