"""Which examples a training fits on, validates on and is evaluated on (train.py).

No VALIDATION rows: validation_fraction of TRAIN is held out. A warm start holds out first the TRAIN images
its loaded weights were never trained on (`seen`: their ids), so that the loaded weights' validation score
is a fair bar (training/warm_start.py). No TEST rows: the evaluation uses the validation images. Caps from
max_train_images / max_eval_images apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import TrainerConfig
from ..errors import InvalidArgumentError
from .dataset import Example
from .rows import TEST, TRAIN, VALIDATION


@dataclass(frozen=True)
class Split:
    train: list[Example]
    validation: list[Example]
    test: list[Example]  # the validation examples when there are no TEST rows
    validation_seen: int  # validation images among `seen` (the warm-start weights trained on them)


def split_examples(
    examples: list[Example],
    config: TrainerConfig,
    rng: np.random.Generator,
    ids: Mapping[Path, str],
    seen: Set[str] = frozenset(),
) -> Split:
    """`ids`: each example's image id by image_path (data/image_ids.py). Without `seen` the draw from `rng`
    is the one a cold start has always made, so a seed gives the same split as before."""
    train_ex = [e for e in examples if e.split == TRAIN]  # images without objects train as negatives
    val_ex = [e for e in examples if e.split == VALIDATION]
    test_ex = [e for e in examples if e.split == TEST]
    if config.max_train_images is not None:
        train_ex = train_ex[: config.max_train_images]
    if not val_ex:
        if len(train_ex) < 2:
            raise InvalidArgumentError(
                "dataset: need at least 2 TRAIN images when there are no VALIDATION rows"
            )

        def known(i: int) -> bool:
            return ids[train_ex[i].image_path] in seen

        # a stable sort keeps the random order within the unseen and within the seen images
        order = sorted(rng.permutation(len(train_ex)), key=known)
        n_val = max(1, int(round(len(train_ex) * config.validation_fraction)))
        n_val = max(n_val, min(config.min_validation_images, len(train_ex) // 4))
        held = sorted(order[:n_val], key=lambda i: (known(i), i))  # unseen first, then file order
        val_ex = [train_ex[i] for i in held]
        train_ex = [train_ex[i] for i in sorted(order[n_val:])]
    if not any(e.boxes for e in train_ex):
        raise InvalidArgumentError("dataset: no TRAIN image with boxes")
    if not test_ex:
        test_ex = val_ex
    if config.max_eval_images is not None:
        val_ex, test_ex = val_ex[: config.max_eval_images], test_ex[: config.max_eval_images]
    validation_seen = sum(ids[e.image_path] in seen for e in val_ex)
    return Split(train_ex, val_ex, test_ex, validation_seen)
