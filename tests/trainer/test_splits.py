"""data/splits.py: which images a training fits, validates and is evaluated on. A warm start holds out the
TRAIN images its loaded weights never trained on first (issue 29: their validation score is the bar the
training must beat, and a picture they trained on would inflate it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetrain_trainer.config import TrainerConfig
from edgetrain_trainer.data.dataset import Example
from edgetrain_trainer.data.rows import TEST, TRAIN, VALIDATION, Box
from edgetrain_trainer.data.splits import split_examples

CONFIG = TrainerConfig()  # 10 % held out, at least 8 (at most a quarter of TRAIN)


def examples(split: str, count: int, start: int = 0) -> list[Example]:
    box = (Box("card", 0.1, 0.1, 0.5, 0.5, class_id=0),)
    return [
        Example(Path(f"/data/{split}/{i}.jpg"), f"{split}/{i}.jpg", split, split, box, 64, 64)
        for i in range(start, start + count)
    ]


def ids_of(items: list[Example]) -> dict[Path, str]:
    return {e.image_path: f"id-{e.image_ref}" for e in items}


def validation_refs(split) -> list[str]:
    return [e.image_ref for e in split.validation]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_cold_start_holds_out_the_seeds_random_draw(seed):
    data = examples(TRAIN, 36) + examples(TEST, 12)
    split = split_examples(data, CONFIG, np.random.default_rng(seed), ids_of(data))
    order = np.random.default_rng(seed).permutation(36)  # the draw train() has always made
    assert validation_refs(split) == [f"TRAIN/{i}.jpg" for i in sorted(order[:8])]
    assert len(split.train) == 28 and split.test == data[36:] and split.validation_seen == 0


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_warm_start_validates_on_images_its_weights_never_trained_on(seed):
    data = examples(TRAIN, 36) + examples(TEST, 12)
    ids = ids_of(data)
    unseen = {f"TRAIN/{i}.jpg" for i in (2, 5, 11, 17, 20, 23, 30, 35)}
    seen = {ids[e.image_path] for e in data[:36] if e.image_ref not in unseen}
    split = split_examples(data, CONFIG, np.random.default_rng(seed), ids, seen)
    assert set(validation_refs(split)) == unseen
    assert split.validation_seen == 0
    assert {ids[e.image_path] for e in split.train} == seen


def test_too_few_new_images_are_topped_up_with_seen_ones_and_counted():
    data = examples(TRAIN, 36) + examples(TEST, 12)
    ids = ids_of(data)
    unseen = {"TRAIN/3.jpg", "TRAIN/9.jpg", "TRAIN/27.jpg"}
    seen = {ids[e.image_path] for e in data[:36] if e.image_ref not in unseen}
    split = split_examples(data, CONFIG, np.random.default_rng(0), ids, seen)
    assert len(split.validation) == 8 and split.validation_seen == 5
    assert set(validation_refs(split)[:3]) == unseen  # the unseen first: a cap keeps them
    capped = TrainerConfig.from_overrides({"max_eval_images": 4})
    split = split_examples(data, capped, np.random.default_rng(0), ids, seen)
    assert set(validation_refs(split)[:3]) == unseen and split.validation_seen == 1
    assert split.test == data[36:40]


def test_validation_rows_the_weights_trained_on_are_counted():
    data = examples(TRAIN, 10) + examples(VALIDATION, 4) + examples(TEST, 2)
    ids = ids_of(data)
    seen = {ids[data[10].image_path], ids[data[12].image_path]}
    split = split_examples(data, CONFIG, np.random.default_rng(0), ids, seen)
    assert split.validation == data[10:14] and split.train == data[:10]
    assert split.validation_seen == 2


def test_without_test_rows_the_validation_images_are_the_evaluation():
    data = examples(TRAIN, 40)
    split = split_examples(data, CONFIG, np.random.default_rng(0), ids_of(data))
    assert split.test == split.validation and len(split.validation) == 8
