"""Where a trained model's files live: <data dir>/models/<ID>/, result.json naming the trainer's outputs."""

from __future__ import annotations

import json
from pathlib import Path

from .config import ServiceConfig
from .errors import FailedPrecondition


def train_dir(config: ServiceConfig, model_id: str) -> Path:
    return config.model_dir(model_id) / "train"


def write_result(config: ServiceConfig, model_id: str, result) -> None:
    """Record a TrainResult's paths (and its wall time, for the service benchmark)."""
    path = config.model_dir(model_id) / "result.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "package_dir": str(result.package_dir),
                "model_dir": str(result.model_dir),
                "labels": list(result.labels),
                "wall_seconds": result.wall_seconds,
            }
        )
    )
    tmp.replace(path)


def read_result(config: ServiceConfig, model_id: str) -> dict:
    path = config.model_dir(model_id) / "result.json"
    if not path.is_file():
        raise FailedPrecondition(f"Model {model_id} has no trained files on this server.")
    return json.loads(path.read_text())
