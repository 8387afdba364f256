"""The feature cache stays within its memory cap however large the dataset."""

import pytest

from edgetrain_trainer.training.feature_cache import bytes_per_view, plan_cache


def test_bytes_per_view_counts_features_and_targets():
    # float16 features of two levels, int16 class + 4 float16 box targets per anchor
    assert bytes_per_view([(4, 4, 8), (2, 2, 16)], anchors=10) == 2 * (128 + 64) + 10 * 10


@pytest.mark.parametrize(
    "images, views, cap, expected",
    [
        (100, 4, 400, (4, 100)),  # fits as asked
        (100, 4, 399, (3, 100)),  # fewer augmented views first
        (100, 4, 150, (1, 100)),
        (100, 4, 99, (1, 99)),  # then, at one view each, fewer images
        (100, 4, 0, (1, 1)),  # never nothing
    ],
)
def test_plan_fits_the_cap(images, views, cap, expected):
    assert plan_cache(images, views, view_bytes=1, max_bytes=cap) == expected
    planned_views, planned_images = expected
    assert planned_views * planned_images <= max(cap, 1)
