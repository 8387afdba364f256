"""The Vertex AI gateway (TRAINING_BACKEND=vertex-ai): the only module that calls `google-cloud-aiplatform`.

It reaches Google's regional endpoint ({location}-aiplatform.googleapis.com, default credentials), or, with
VERTEX_ENDPOINT=host:port, a local service speaking the Vertex subset (`edgetrain serve`) over an insecure
gRPC channel carrying AUTOML_TOKEN. A training is a training pipeline, not a long-running operation: the name
create_model returns is the pipeline's, and get_operation/list_operations report pipelines in the same
OperationView as import and export operations, so the poller follows both alike.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.api_core.client_options import ClientOptions
from google.cloud import aiplatform_v1
from google.cloud.aiplatform_v1.services.dataset_service.transports import DatasetServiceGrpcTransport
from google.cloud.aiplatform_v1.services.model_service.transports import ModelServiceGrpcTransport
from google.cloud.aiplatform_v1.services.pipeline_service.transports import PipelineServiceGrpcTransport

from . import vertex_requests as requests
from .automl_channel import insecure_channel
from .config import Settings
from .model_evaluations import Evaluations, vertex_evaluations
from .resource_names import resource_id
from .retrying import transient_retry
from .training_backend import DatasetView, ModelView, OperationView, PredictedBox

_NOT_APPLIED = gretry.if_exception_type(gexc.ServiceUnavailable, gexc.TooManyRequests)
_PIPELINE_MARK = "/trainingPipelines/"


@dataclass(frozen=True)
class VertexClients:
    datasets: aiplatform_v1.DatasetServiceClient
    pipelines: aiplatform_v1.PipelineServiceClient
    models: aiplatform_v1.ModelServiceClient


def connect(settings: Settings) -> VertexClients:
    """The three service clients, on one insecure channel to VERTEX_ENDPOINT or on Google's endpoint."""
    if settings.vertex_endpoint:
        channel = insecure_channel(settings.vertex_endpoint, settings.automl_token)
        return VertexClients(
            aiplatform_v1.DatasetServiceClient(transport=DatasetServiceGrpcTransport(channel=channel)),
            aiplatform_v1.PipelineServiceClient(transport=PipelineServiceGrpcTransport(channel=channel)),
            aiplatform_v1.ModelServiceClient(transport=ModelServiceGrpcTransport(channel=channel)),
        )
    options = ClientOptions(api_endpoint=f"{settings.location}-aiplatform.googleapis.com")
    return VertexClients(
        aiplatform_v1.DatasetServiceClient(client_options=options),
        aiplatform_v1.PipelineServiceClient(client_options=options),
        aiplatform_v1.ModelServiceClient(client_options=options),
    )


class VertexGateway:
    def __init__(self, settings: Settings, clients: VertexClients | None = None):
        self._settings = settings
        self._clients = clients
        self._lock = threading.Lock()
        self._retry = transient_retry(settings.retry_deadline_s)

    @property
    def clients(self) -> VertexClients:
        """Created on first use, once per process (Cloud Functions reuse warm instances)."""
        with self._lock:
            if self._clients is None:
                self._clients = connect(self._settings)
            return self._clients

    @property
    def location_path(self) -> str:
        return f"projects/{self._settings.project}/locations/{self._settings.location}"

    def dataset_name(self, dataset: str) -> str:
        return dataset if dataset.startswith("projects/") else f"{self.location_path}/datasets/{dataset}"

    # ---- datasets

    def create_dataset(self, display_name: str) -> str:
        operation = self.clients.datasets.create_dataset(
            parent=self.location_path, dataset=requests.dataset(display_name), retry=self._retry
        )
        return operation.result(timeout=self._settings.retry_deadline_s).name

    def get_dataset(self, dataset: str) -> DatasetView:
        found = self.clients.datasets.get_dataset(name=self.dataset_name(dataset), retry=self._retry)
        return DatasetView(found.display_name, int(found.data_item_count))

    def import_data(self, dataset: str, input_uris: list[str]) -> str:
        try:
            configs = requests.import_configs(input_uris)
        except ValueError as exc:
            raise gexc.InvalidArgument(str(exc)) from None
        operation = self.clients.datasets.import_data(
            name=self.dataset_name(dataset), import_configs=configs, retry=self._retry
        )
        return operation.operation.name

    # ---- trainings and models

    def create_model(
        self,
        dataset: str,
        display_name: str,
        model_type: str,
        budget: int,
        labels: dict[str, str],
        base_model: str | None = None,
    ) -> str:
        """CreateTrainingPipeline; the pipeline's name (what the poller follows)."""
        try:
            pipeline = requests.training_pipeline(
                self.dataset_name(dataset), display_name, model_type, budget, labels, base_model
            )
        except ValueError as exc:
            raise gexc.InvalidArgument(str(exc)) from None
        retry = gretry.Retry(
            predicate=_NOT_APPLIED, initial=0.2, maximum=5.0, timeout=self._settings.retry_deadline_s
        )
        created = self.clients.pipelines.create_training_pipeline(
            parent=self.location_path, training_pipeline=pipeline, retry=retry
        )
        return created.name

    def _pipeline(self, name: str) -> aiplatform_v1.TrainingPipeline:
        return self.clients.pipelines.get_training_pipeline(name=name, retry=self._retry)

    def _pipelines(self, filter_: str = "") -> list[aiplatform_v1.TrainingPipeline]:
        request = aiplatform_v1.ListTrainingPipelinesRequest(parent=self.location_path, filter=filter_)
        return list(self.clients.pipelines.list_training_pipelines(request=request, retry=self._retry))

    def get_model(self, name: str) -> ModelView:
        model = self.clients.models.get_model(name=name, retry=self._retry)
        view = None
        if model.training_pipeline:
            view = requests.pipeline_model(self._pipeline(model.training_pipeline))
        if view is None:  # a model uploaded by hand, not trained by a pipeline of ours
            return ModelView(
                name=model.name,
                display_name=model.display_name,
                dataset_id="",
                model_type="",
                budget_milli_node_hours=0,
                cost_milli_node_hours=0,
                stop_reason=None,
                labels=dict(model.labels),
                create_time=model.create_time.isoformat() if model.create_time else None,
            )
        return replace(view, name=model.name)  # as GetModel names it (a pipeline may use the project number)

    def list_models(self, dataset: str) -> list[ModelView]:
        """Models that pipelines trained on the dataset and that still exist (ListModels has no dataset
        filter: the pipelines say which dataset each model came from)."""
        dataset_id = resource_id(self.dataset_name(dataset))
        existing = {
            m.name
            for m in self.clients.models.list_models(
                request=aiplatform_v1.ListModelsRequest(parent=self.location_path), retry=self._retry
            )
        }
        pipelines = [p for p in self._pipelines() if p.input_data_config.dataset_id == dataset_id]
        views = [requests.pipeline_model(p) for p in pipelines]
        return [v for v in views if v is not None and v.name in existing]

    def model_evaluations(self, model: str) -> Evaluations:
        """The model's evaluation with its per-label slices and, when `edgetrain serve` compared it with
        another model on the same TEST images, that model's."""
        models = self.clients.models
        found = [
            (
                aiplatform_v1.ModelEvaluation.to_dict(evaluation),
                [
                    aiplatform_v1.ModelEvaluationSlice.to_dict(item)
                    for item in models.list_model_evaluation_slices(parent=evaluation.name, retry=self._retry)
                ],
            )
            for evaluation in models.list_model_evaluations(parent=model, retry=self._retry)
        ]
        labels = models.get_model(name=model, retry=self._retry).labels
        return vertex_evaluations(found, dict(labels))

    def export_model(self, model: str, model_format: str, uri_prefix: str) -> str:
        try:
            request = requests.export_request(model, model_format, uri_prefix)
        except ValueError as exc:
            raise gexc.InvalidArgument(str(exc)) from None
        return self.clients.models.export_model(request=request, retry=self._retry).operation.name

    def delete_model(self, model: str) -> None:
        try:
            self.clients.models.delete_model(name=model, retry=self._retry)
        except gexc.NotFound:
            pass  # already gone: deleting is idempotent for us

    # ---- what the poller follows

    def list_operations(self, filter_: str = "") -> list[OperationView]:
        """Training pipelines: all (""), unfinished ("done=false"), or the one that trained MODEL
        ("worksOn=MODEL"). Import and export operations live under their dataset or model in Vertex, so the
        poller gets those one by one (get_operation)."""
        if filter_ == "":
            return [requests.pipeline_view(p) for p in self._pipelines()]
        if filter_ == "done=false":
            return [requests.pipeline_view(p) for p in self._pipelines(requests.unfinished_filter())]
        if filter_.startswith("worksOn="):
            model = self.clients.models.get_model(name=filter_.removeprefix("worksOn="), retry=self._retry)
            if not model.training_pipeline:
                return []
            return [requests.pipeline_view(self._pipeline(model.training_pipeline))]
        raise ValueError(f"VertexGateway.list_operations: unsupported filter {filter_!r}")

    def get_operation(self, name: str) -> OperationView:
        if _PIPELINE_MARK in name:
            return requests.pipeline_view(self._pipeline(name))
        op = self.clients.datasets.get_operation(request={"name": name}, retry=self._retry)
        return requests.operation_view(op)

    def predict(
        self,
        model: str,
        image: bytes,
        score_threshold: float,
        max_boxes: int,
        deadline_s: float | None = None,
    ) -> list[PredictedBox]:
        raise gexc.FailedPrecondition(
            "Vertex AI predicts only through a model deployed to an endpoint, which this pipeline does not "
            "create: try images with TRAINING_BACKEND=automl-v1"
        )
