"""An in-memory stand-in for a training backend (training_backend.TrainingBackend, one layer below the use
cases) for the unit tests.

It keeps models and long-running operations the way the AutoML API reports them; tests move operations on
with progress(), succeed(), fail() and cancel(). The integration tests use the real service instead.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import UTC, datetime

from edgetrain_pipeline.model_evaluations import Evaluations
from edgetrain_pipeline.training_backend import (
    CANCELLED_CODE,
    EXPORT,
    IMPORT,
    TRAINING,
    DatasetView,
    ModelView,
    OperationView,
    PredictedBox,
)
from google.api_core import exceptions as gexc

from edgetrain_service.predict import IMAGE_FIELD, UNKNOWN_FORMAT

PROJECT_LOCATION = "projects/edgetrain-test/locations/us-central1"


def evaluation_summary(map_value: float) -> dict:
    curves = [
        {
            "iouThreshold": iou,
            "meanAveragePrecision": map_value - 0.1 * i,
            "recall": [0.0, 0.5, 0.9],
            "precision": [1.0, 0.9 - 0.1 * i, 0.5 - 0.1 * i],
        }
        for i, iou in enumerate((0.5, 0.75))
    ]
    return {
        "boundingBoxMeanAveragePrecision": map_value,
        "meanAveragePrecisionAt50": map_value,
        "evaluatedBoundingBoxCount": 42,
        "curves": curves,
    }


class FakeAutoMl:
    def __init__(self):
        self.location_path = PROJECT_LOCATION
        self.datasets: dict[str, int] = {}  # dataset id -> example count
        self.dataset_display_names: dict[str, str] = {}  # dataset id -> display name (default: the id)
        self.models: dict[str, ModelView] = {}
        self.operations: dict[str, OperationView] = {}
        self.evaluations: dict[str, dict] = {}  # model name -> summary
        self.compared: dict[str, Evaluations] = {}  # model name -> its evaluations with a champion's
        self.calls: list[tuple] = []
        self.fail_next: dict[str, Exception] = {}  # method -> exception raised once
        self.base_models: list[str | None] = []  # create_model's base_model, call by call
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # ---- the gateway's interface

    def dataset_name(self, dataset: str) -> str:
        return dataset if dataset.startswith("projects/") else f"{self.location_path}/datasets/{dataset}"

    def _record(self, method: str, *args) -> None:
        with self._lock:
            self.calls.append((method, *args))
            if method in self.fail_next:
                raise self.fail_next.pop(method)

    def get_dataset(self, dataset: str) -> DatasetView:
        self._record("get_dataset", dataset)
        dataset_id = dataset.rsplit("/", 1)[-1]
        if dataset_id not in self.datasets:
            raise gexc.NotFound(f"Dataset {dataset} not found.")
        return DatasetView(self.dataset_display_names.get(dataset_id, dataset_id), self.datasets[dataset_id])

    def _new_op(self, kind: str) -> OperationView:
        op = OperationView(
            name=f"{self.location_path}/operations/IOD{next(self._ids)}",
            done=False,
            kind=kind,
            progress_percent=0,
        )
        self.operations[op.name] = op
        return op

    def create_model(self, dataset, display_name, model_type, budget, labels, base_model=None) -> str:
        self._record("create_model", dataset, display_name, model_type, budget, dict(labels))
        self.base_models.append(base_model)
        with self._lock:
            op = self._new_op(TRAINING)
            model = ModelView(
                name=f"{self.location_path}/models/IOD{next(self._ids)}",
                display_name=display_name,
                dataset_id=dataset.rsplit("/", 1)[-1],
                model_type=model_type,
                budget_milli_node_hours=budget,
                cost_milli_node_hours=0,
                stop_reason=None,
                labels=dict(labels),
                create_time=datetime.now(UTC).isoformat(),
            )
            self._pending_models = getattr(self, "_pending_models", {})
            self._pending_models[op.name] = model
        return op.name

    def get_model(self, name: str) -> ModelView:
        if name not in self.models:
            raise gexc.NotFound(f"Model {name} not found.")
        return self.models[name]

    def list_models(self, dataset: str) -> list[ModelView]:
        dataset_id = dataset.rsplit("/", 1)[-1]
        return [m for m in self.models.values() if m.dataset_id == dataset_id]

    def model_evaluations(self, model: str) -> Evaluations:
        """`compared[model]` when a test set one (the backend compared it with a champion), else the
        model's own summary from `evaluations`, uncompared."""
        self._record("model_evaluations", model)
        return self.compared.get(model) or Evaluations(self.evaluations.get(model, {}))

    def export_model(self, model: str, model_format: str, uri_prefix: str) -> str:
        self._record("export_model", model, model_format, uri_prefix)
        op = self._new_op(EXPORT)
        self._exports = getattr(self, "_exports", {})
        self._exports[op.name] = f"{uri_prefix}{model_format}-20261128000000/"
        return op.name

    def delete_model(self, model: str) -> None:
        self._record("delete_model", model)
        self.models.pop(model, None)

    def import_data(self, dataset: str, input_uris: list[str]) -> str:
        self._record("import_data", dataset, list(input_uris))
        return self._new_op(IMPORT).name

    def list_operations(self, filter_: str = "") -> list[OperationView]:
        self._record("list_operations", filter_)
        ops = list(self.operations.values())
        if filter_ == "done=false":
            ops = [op for op in ops if not op.done]
        elif filter_.startswith("worksOn="):
            model = filter_.split("=", 1)[1]
            ops = [op for op in ops if op.model is not None and op.model.name == model]
        return ops

    def get_operation(self, name: str) -> OperationView:
        self._record("get_operation", name)
        if name not in self.operations:
            raise gexc.NotFound(f"Operation {name} not found.")
        return self.operations[name]

    # ---- test controls

    def progress(self, name: str, percent: int) -> None:
        self.operations[name] = replace(self.operations[name], progress_percent=percent)

    def succeed(
        self, name: str, map_value: float = 0.5, cost: int = 1_000, stop_reason: str = "MODEL_CONVERGED"
    ):
        op = self.operations[name]
        model = None
        export_dir = None
        if op.kind == TRAINING:
            model = replace(self._pending_models[name], cost_milli_node_hours=cost, stop_reason=stop_reason)
            self.models[model.name] = model
            self.evaluations[model.name] = evaluation_summary(map_value)
        if op.kind == EXPORT:
            export_dir = self._exports[name]
        self.operations[name] = replace(
            op, done=True, progress_percent=100, model=model, export_directory=export_dir
        )
        return model

    def fail(self, name: str, message: str = "trainer crashed: out of memory") -> None:
        self.operations[name] = replace(
            self.operations[name], done=True, error_code=13, error_message=message
        )

    def cancel(self, name: str) -> None:
        self.operations[name] = replace(
            self.operations[name],
            done=True,
            error_code=CANCELLED_CODE,
            error_message="Operation cancelled by the caller.",
        )

    def count(self, method: str) -> int:
        return sum(1 for call in self.calls if call[0] == method)

    def predict(
        self,
        model: str,
        image: bytes,
        score_threshold: float,
        max_boxes: int,
        deadline_s: float | None = None,
    ) -> list[PredictedBox]:
        """One box per test: a body starting with b"not an image" is refused as the service refuses it, one
        starting with b"<" with a reason holding markup."""
        self._record("predict", model, score_threshold)
        if image.startswith(b"not an image"):
            raise gexc.InvalidArgument(f"{IMAGE_FIELD}: {UNKNOWN_FORMAT}")
        if image.startswith(b"<"):  # a reason with markup in it, as a backend might word one
            raise gexc.InvalidArgument(f"{IMAGE_FIELD}: <b>not</b> an image & not <script>alert(1)</script>")
        return [PredictedBox("ace", 0.9, (0.1, 0.2, 0.5, 0.6))][:max_boxes]
