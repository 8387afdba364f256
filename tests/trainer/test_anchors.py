"""Anchor layout against anchors computed by hand."""

import numpy as np
import pytest

from edgetrain_trainer.model.anchors import AnchorConfig, generate_anchors


def test_single_shape_anchors_match_hand_computed_grid():
    config = AnchorConfig(min_level=5, max_level=6, num_scales=1, aspect_ratios=(1.0,), anchor_scale=1.0)
    anchors = generate_anchors(128, config)
    # level 5: stride 32 → 4x4 cells of 32 px anchors; level 6: stride 64 → 2x2 cells of 64 px anchors
    assert anchors.shape == (16 + 4, 4)
    np.testing.assert_allclose(anchors[0], [16 / 128, 16 / 128, 32 / 128, 32 / 128])
    np.testing.assert_allclose(anchors[1], [16 / 128, 48 / 128, 32 / 128, 32 / 128])  # x moves first
    np.testing.assert_allclose(anchors[4], [48 / 128, 16 / 128, 32 / 128, 32 / 128])
    np.testing.assert_allclose(anchors[16], [32 / 128, 32 / 128, 64 / 128, 64 / 128])
    np.testing.assert_allclose(anchors[19], [96 / 128, 96 / 128, 64 / 128, 64 / 128])


def test_shapes_of_one_location_are_scale_major_then_ratio():
    config = AnchorConfig(min_level=6, max_level=6, num_scales=2, aspect_ratios=(1.0, 2.0), anchor_scale=1.0)
    anchors = generate_anchors(64, config) * 64  # back to pixels; one location
    base0, base1 = 64.0, 64.0 * 2**0.5
    expected_hw = [
        (base0, base0),
        (base0 / 2**0.5, base0 * 2**0.5),
        (base1, base1),
        (base1 / 2**0.5, base1 * 2**0.5),
    ]
    np.testing.assert_allclose(anchors[:, 2:], expected_hw, rtol=1e-5)
    np.testing.assert_allclose(anchors[:, :2], 32.0)


def test_default_count_matches_head_layout():
    # levels 3..6 at 320 px: 40² + 20² + 10² + 5² cells, 9 shapes each
    assert len(generate_anchors(320)) == (1600 + 400 + 100 + 25) * 9


def test_input_not_divisible_by_largest_stride_is_rejected():
    with pytest.raises(ValueError, match="divisible"):
        generate_anchors(100)
