"""Images above the memory cap are decoded on use, with the same pixels as the in-memory array."""

from pathlib import Path

import numpy as np

from edgetrain_trainer.data.dataset import load_dataset
from edgetrain_trainer.data.image_store import ImagesFromFiles, load_images, take

CARDS = Path(__file__).parent / "data" / "cards_small" / "annotations.csv"


def _paths(count):
    return [e.image_path for e in load_dataset(CARDS).examples[:count]]


def test_images_within_the_cap_are_held_in_one_array():
    images = load_images(_paths(3), 64, max_bytes=3 * 64 * 64 * 3, cancel=lambda: False)
    assert isinstance(images, np.ndarray) and images.shape == (3, 64, 64, 3)


def test_images_over_the_cap_are_decoded_on_use_with_the_same_pixels():
    paths = _paths(5)
    eager = load_images(paths, 64, max_bytes=2**30, cancel=lambda: False)
    lazy = load_images(paths, 64, max_bytes=4 * 64 * 64 * 3, cancel=lambda: False)
    assert isinstance(lazy, ImagesFromFiles) and len(lazy) == 5
    np.testing.assert_array_equal(lazy[2], eager[2])
    np.testing.assert_array_equal(lazy[1:4], eager[1:4])
    np.testing.assert_array_equal(lazy[np.array([4, 0])], eager[[4, 0]])
    assert lazy[3:].shape == (2, 64, 64, 3)
    subset = take(lazy, np.array([3, 1]))  # a subset stays on file ...
    assert isinstance(subset, ImagesFromFiles)
    np.testing.assert_array_equal(subset[:], eager[[3, 1]])  # ... with the same pixels
