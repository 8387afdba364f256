"""The trainer benchmark's validation curve: one point per validated epoch."""

import time

from benchmarks.memory import PhaseMemory
from benchmarks.trainer_bench import _progress_printer
from edgetrain_trainer.types import Progress


def test_every_epoch_is_a_point_equal_scores_included_and_the_closing_report_is_not():
    curve: list[tuple[float, float]] = []
    report = _progress_printer(time.monotonic(), curve, PhaseMemory())
    report(Progress(10.0, "features", message="caching backbone features"))
    for epoch, score in enumerate([0.5, 0.7, 0.7, 0.6], start=1):
        report(
            Progress(20.0 + epoch, "finetune", epoch=epoch, val_map=score, message=f"finetune epoch {epoch}")
        )
    report(Progress(100.0, "evaluate", val_map=0.7, message="mAP@0.5 0.690"))
    assert [v for _, v in curve] == [0.5, 0.7, 0.7, 0.6]
