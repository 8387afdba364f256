"""A running training's learning curve as a JSON object in storage, for the pipeline to read while it runs.

AutoML v1's OperationMetadata has no place for it (CreateModelOperationMetadata is empty), so with
`--progress-uri-prefix gs://BUCKET/PATH/` each training writes PREFIX/OPERATION_ID.json (under the storage
root: in the cloud a gcsfuse-mounted bucket) on every epoch and phase change. The pipeline's poll reads it
with its storage reader and copies it into trainings/{id}.trainingCurve (docs/status_page.md):

    {"operation", "startedAt", "updatedAt" (ISO 8601), "elapsedS", "percent", "phase",
     "budgetMilliNodeHours", "points": [{"stage", "epoch", "loss", "valMap50", "elapsedS", "percent"}]}
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_POINTS = 400  # epochs kept (the latest): a Firestore document holds at most 1 MiB


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat()


class TrainingCurve:
    """Collects one point per reported epoch and rewrites the JSON object atomically on each change."""

    def __init__(self, path: Path, operation: str, budget_milli_node_hours: int):
        self.path = path
        self._started = time.time()
        self._phase = ""
        self._doc: dict[str, Any] = {
            "operation": operation,
            "startedAt": _iso(self._started),
            "budgetMilliNodeHours": budget_milli_node_hours,
            "points": [],
        }

    def record(self, report) -> None:
        """A trainer Progress: a point when it ends an epoch; a write when it adds a point or a phase."""
        elapsed = round(time.time() - self._started, 1)
        points = self._doc["points"]
        if report.epoch is not None and (report.losses or report.val_map is not None):
            loss = report.losses.get("total", next(iter(report.losses.values()), None))
            points.append(
                {
                    "stage": report.phase,
                    "epoch": int(report.epoch),
                    "loss": None if loss is None else round(float(loss), 5),
                    "valMap50": None if report.val_map is None else round(float(report.val_map), 4),
                    "elapsedS": elapsed,
                    "percent": round(float(report.percent), 1),
                }
            )
            del points[:-MAX_POINTS]
        elif report.phase == self._phase:
            return
        self._phase = report.phase
        self._doc |= {
            "updatedAt": _iso(time.time()),
            "elapsedS": elapsed,
            "percent": round(float(report.percent), 1),
            "phase": report.phase,
        }
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        partial.write_text(json.dumps(self._doc))
        os.replace(partial, self.path)  # a reader never sees half an object
