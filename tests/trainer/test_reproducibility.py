"""The same seed (and thread count) trains the same model: equal losses and validation mAP, epoch by epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgetrain_trainer.errors import TrainingCancelled
from edgetrain_trainer.train import train
from edgetrain_trainer.types import TrainRequest

pytestmark = pytest.mark.slow

CARDS = Path(__file__).parent / "data" / "cards_small" / "annotations.csv"


def _epoch_history(tmp_path: Path, seed: int) -> list[tuple]:
    """(phase, epoch, losses, validation mAP) of two head epochs (augmented views, initialization, shuffling),
    then cancel. Fine-tuning is left out: its first step alone takes half a minute to compile."""
    reports = []
    request = TrainRequest(
        data=CARDS,
        out_dir=tmp_path / f"out-{seed}-{len(list(tmp_path.iterdir()))}",
        model_type="mobile-low-latency-1",
        budget_milli_node_hours=1000,
        seed=seed,
        overrides={
            "max_epochs": 2,
            "finetune": False,
            "cache_views": 2,
            "input_size": 128,  # any size shows it; the smallest caches and trains fastest
            "max_train_images": 12,
            "max_eval_images": 4,
            "threads": 2,
        },
    )
    trained = lambda: any(p.phase == "export" for p in reports)  # noqa: E731
    with pytest.raises(TrainingCancelled):  # export is not needed to compare the training
        train(request, reports.append, cancel=trained)
    history = [(p.phase, p.epoch, p.losses, p.val_map) for p in reports if p.val_map is not None]
    assert [h[:2] for h in history] == [("head", 1), ("head", 2)]
    return history


def test_a_seed_reproduces_the_training(tmp_path):
    first = _epoch_history(tmp_path, seed=3)
    assert all(losses["total"] > 0 for _, _, losses, _ in first)
    assert _epoch_history(tmp_path, seed=3) == first
