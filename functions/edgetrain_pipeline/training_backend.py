"""What the use cases need from a training backend, whichever API it speaks (TRAINING_BACKEND).

Two gateways implement TrainingBackend: automl_gateway.AutoMlGateway (AutoML Vision v1, the self-hosted
`edgetrain serve`) and vertex_gateway.VertexGateway (Vertex AI: Google's managed AutoML, or `edgetrain serve`
speaking the Vertex subset). Both return these plain views, so the use cases never see a protobuf or know
which backend they drive. Model types and export formats are AutoML v1's spelling everywhere in the pipeline
(config.MODEL_TYPES, config.EXPORT_FORMATS); a gateway translates them to its API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .model_evaluations import Evaluations

CANCELLED_CODE = 1  # google.rpc.Code.CANCELLED: how both APIs end a cancelled operation or pipeline
INTERNAL_CODE = 13  # google.rpc.Code.INTERNAL: a failed Vertex pipeline that reports no error code

# OperationView.kind: what a long-running operation (or a Vertex training pipeline) works on.
TRAINING = "training"
EXPORT = "export"
IMPORT = "import"
OTHER = "other"


@dataclass(frozen=True)
class DatasetView:
    display_name: str
    example_count: int  # AutoML exampleCount, Vertex dataItemCount


@dataclass(frozen=True)
class ModelView:
    name: str
    display_name: str
    dataset_id: str
    model_type: str  # AutoML v1 spelling (mobile-versatile-1)
    budget_milli_node_hours: int
    cost_milli_node_hours: int
    stop_reason: str | None  # MODEL_CONVERGED or BUDGET_REACHED
    labels: dict[str, str]
    create_time: str | None  # ISO 8601


@dataclass(frozen=True)
class OperationView:
    name: str  # the name to follow: an operation, or a Vertex training pipeline
    done: bool
    kind: str  # TRAINING, EXPORT, IMPORT or OTHER
    progress_percent: int
    error_code: int = 0
    error_message: str = ""
    model: ModelView | None = None  # the model a finished training produced
    export_directory: str | None = None  # where a finished export wrote its package
    partial_failures: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.done and self.error_code == 0

    @property
    def cancelled(self) -> bool:
        return self.done and self.error_code == CANCELLED_CODE


@dataclass(frozen=True)
class PredictedBox:
    label: str
    score: float
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax, normalized 0–1


class TrainingBackend(Protocol):
    """The calls the use cases make. Errors are google.api_core exceptions; transient ones are retried inside
    each call up to RETRY_DEADLINE_S (then RetryError), so use cases only tell permanent from exhausted."""

    def dataset_name(self, dataset: str) -> str:
        """The full resource name of a dataset given as an ID or a full name."""

    def create_dataset(self, display_name: str) -> str:
        """Create an image object-detection dataset; its resource name."""

    def get_dataset(self, dataset: str) -> DatasetView:
        """The dataset's display name and image count."""

    def import_data(self, dataset: str, input_uris: list[str]) -> str:
        """Start an import of bounding-box files (gs:// URIs); the operation name to follow."""

    def create_model(
        self,
        dataset: str,
        display_name: str,
        model_type: str,
        budget: int,
        labels: dict[str, str],
        base_model: str | None = None,
    ) -> str:
        """Start a training; the name to follow (get_operation). base_model: a model to start from
        (incremental training) where the backend supports it; others refuse it (InvalidArgument)."""

    def get_model(self, name: str) -> ModelView: ...

    def list_models(self, dataset: str) -> list[ModelView]:
        """The models trained on the dataset (what reconciliation searches by label and display name)."""

    def model_evaluations(self, model: str) -> Evaluations:
        """The model's evaluation (overall and per label) as evaluation.with_images() summarizes it, its int8
        latency, and the compared champion's evaluation on the same TEST images where the backend made one."""

    def export_model(self, model: str, model_format: str, uri_prefix: str) -> str:
        """Start an export (model_format in config.EXPORT_FORMATS) under uri_prefix; the operation name."""

    def delete_model(self, model: str) -> None:
        """Delete a model; a model already gone is not an error."""

    def list_operations(self, filter_: str = "") -> list[OperationView]:
        """Operations and trainings of this location. filter_: "" (all), "done=false" (unfinished), or
        "worksOn=MODEL" (what made or exported MODEL); a backend refuses other filters (ValueError)."""

    def get_operation(self, name: str) -> OperationView:
        """One operation or training by the name create_model/import_data/export_model returned."""

    def predict(
        self,
        model: str,
        image: bytes,
        score_threshold: float,
        max_boxes: int,
        deadline_s: float | None = None,
    ) -> list[PredictedBox]:
        """Objects a trained model finds in one encoded image (the status page's "Try an image"), retrying
        transient errors for deadline_s (None: RETRY_DEADLINE_S). InvalidArgument: not an image the backend
        can decode; FailedPrecondition: the backend serves no online prediction for this model (Vertex AI:
        only from a deployed endpoint)."""
