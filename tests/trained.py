"""One real training on the bundled cards_small images, for the tests that need *a* trained model rather than
one trained by the path they test (tests/conftest.py serves it once per session as `cards_training`).

Its users read it and never change it: the trainer's end-to-end package tests, the re-export study (on a
copy) and the post-processing study. A test whose point is a training of its own still trains its own.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from edgetrain_trainer.train import train
from edgetrain_trainer.training.feature_cache import FeatureCache
from edgetrain_trainer.types import Progress, TrainRequest, TrainResult

CARDS_SMALL = Path(__file__).parent / "trainer" / "data" / "cards_small"
MODEL_TYPE = "mobile-low-latency-1"
# the model type's own 320 px input; head epochs enough to find the cards, and one fine-tuning epoch so
# that both stages run (about a minute on 2 cores)
OVERRIDES = {"head_max_epochs": 12, "finetune_max_epochs": 1, "cache_views": 3, "calibration_images": 16}
SEED = 1


@dataclass(frozen=True)
class Trained:
    result: TrainResult
    reports: list[Progress]  # every progress report of the training, in order
    out_dir: Path  # the training's out_dir (package/ and model/); nothing else is in its parent folder
    feature_caches_at_export: int  # FeatureCache objects still alive when the export began


def _live_feature_caches() -> int:
    return sum(type(o) is FeatureCache for o in gc.get_objects())


def train_cards(out_dir: Path) -> Trained:
    """Train MODEL_TYPE on cards_small into `out_dir` with OVERRIDES and SEED."""
    reports: list[Progress] = []
    at_export: list[int] = []

    def record(progress: Progress) -> None:
        reports.append(progress)
        if progress.phase == "export" and not at_export:
            at_export.append(_live_feature_caches())

    request = TrainRequest(
        data=CARDS_SMALL / "annotations.csv",
        out_dir=out_dir,
        model_type=MODEL_TYPE,
        budget_milli_node_hours=1000,
        seed=SEED,
        overrides=OVERRIDES,
    )
    result = train(request, progress=record)
    return Trained(result, reports, out_dir, at_export[0])
