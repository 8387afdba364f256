"""The AutoML Vision v1 gateway (TRAINING_BACKEND=automl-v1): the only module that talks to
`google-cloud-automl`, always to a self-hosted service (`edgetrain serve`) at AUTOML_ENDPOINT: Google's own
AutoML Vision endpoint was shut down in 2024.

Calls return the plain views of training_backend.py so that use cases never see protobufs. Transient errors
are retried with a deadline (retrying.py); CreateModel is retried only on errors that mean "not applied" (the
poller reconciles the rest, see usecases/reconcile.py).
"""

from __future__ import annotations

import threading
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import automl_v1
from google.cloud.automl_v1.services.auto_ml.transports import AutoMlGrpcTransport
from google.cloud.automl_v1.services.prediction_service.transports import PredictionServiceGrpcTransport

from .automl_channel import insecure_channel
from .config import Settings
from .model_evaluations import Evaluations, automl_evaluations
from .resource_names import resource_id
from .retrying import transient_retry
from .training_backend import (
    EXPORT,
    IMPORT,
    OTHER,
    TRAINING,
    DatasetView,
    ModelView,
    OperationView,
    PredictedBox,
)

_NOT_APPLIED = gretry.if_exception_type(gexc.ServiceUnavailable, gexc.TooManyRequests)
# `edgetrain serve`'s CreateModel label for a warm start from an earlier model (value: its id, lower case)
BASE_MODEL_LABEL = "edgetrain-base-model"
_KINDS = {
    "create_model_details": TRAINING,
    "export_model_details": EXPORT,
    "import_data_details": IMPORT,
}


def _model_view(model: automl_v1.Model) -> ModelView:
    meta = model.image_object_detection_model_metadata
    return ModelView(
        name=model.name,
        display_name=model.display_name,
        dataset_id=model.dataset_id,
        model_type=meta.model_type,
        budget_milli_node_hours=int(meta.train_budget_milli_node_hours),
        cost_milli_node_hours=int(meta.train_cost_milli_node_hours),
        stop_reason=meta.stop_reason or None,
        labels=dict(model.labels),
        create_time=model.create_time.isoformat() if model.create_time else None,
    )


def _operation_view(op: Any) -> OperationView:
    """A google.longrunning.Operation (raw protobuf) as an OperationView."""
    metadata = automl_v1.OperationMetadata.deserialize(op.metadata.value) if op.metadata.value else None
    meta_pb = automl_v1.OperationMetadata.pb(metadata) if metadata is not None else None
    kind = (meta_pb.WhichOneof("details") or "") if meta_pb is not None else ""
    model = export_dir = None
    if op.done and op.HasField("response") and op.response.type_url.endswith("automl.v1.Model"):
        model = _model_view(automl_v1.Model.deserialize(op.response.value))
    if metadata is not None and kind == "export_model_details":
        export_dir = metadata.export_model_details.output_info.gcs_output_directory or None
    return OperationView(
        name=op.name,
        done=op.done,
        kind=_KINDS.get(kind, OTHER),
        progress_percent=int(metadata.progress_percent) if metadata is not None else 0,
        error_code=op.error.code if op.HasField("error") else 0,
        error_message=op.error.message if op.HasField("error") else "",
        model=model,
        export_directory=export_dir,
        partial_failures=[s.message for s in metadata.partial_failures] if metadata is not None else [],
    )


class AutoMlGateway:
    def __init__(self, settings: Settings, client: automl_v1.AutoMlClient | None = None):
        self._settings = settings
        self._client = client
        self._predictions: automl_v1.PredictionServiceClient | None = None
        self._lock = threading.Lock()
        self._retry = transient_retry(settings.retry_deadline_s)

    @property
    def client(self) -> automl_v1.AutoMlClient:
        """Created on first use, once per process (Cloud Functions reuse warm instances)."""
        with self._lock:
            if self._client is None:
                endpoint = self._settings.automl_endpoint
                if not endpoint:  # config.get_env() refuses this already; a Settings built by hand may not
                    raise ValueError("AutoMlGateway needs settings.automl_endpoint (host:port)")
                channel = insecure_channel(endpoint, self._settings.automl_token)
                self._client = automl_v1.AutoMlClient(transport=AutoMlGrpcTransport(channel=channel))
            return self._client

    @property
    def prediction_client(self) -> automl_v1.PredictionServiceClient:
        with self._lock:
            if self._predictions is None:
                channel = insecure_channel(self._settings.automl_endpoint or "", self._settings.automl_token)
                transport = PredictionServiceGrpcTransport(channel=channel)
                self._predictions = automl_v1.PredictionServiceClient(transport=transport)
            return self._predictions

    @property
    def location_path(self) -> str:
        return f"projects/{self._settings.project}/locations/{self._settings.location}"

    def dataset_name(self, dataset: str) -> str:
        return dataset if dataset.startswith("projects/") else f"{self.location_path}/datasets/{dataset}"

    # ---- datasets and models

    def create_dataset(self, display_name: str) -> str:
        dataset = automl_v1.Dataset(
            display_name=display_name,
            image_object_detection_dataset_metadata=automl_v1.ImageObjectDetectionDatasetMetadata(),
        )
        operation = self.client.create_dataset(parent=self.location_path, dataset=dataset, retry=self._retry)
        return operation.result(timeout=self._settings.retry_deadline_s).name

    def get_dataset(self, dataset: str) -> DatasetView:
        found = self.client.get_dataset(name=self.dataset_name(dataset), retry=self._retry)
        return DatasetView(found.display_name, int(found.example_count))

    def create_model(
        self,
        dataset: str,
        display_name: str,
        model_type: str,
        budget: int,
        labels: dict[str, str],
        base_model: str | None = None,
    ) -> str:
        """Start a training; the operation's name. AutoML v1 has no base-model field for object detection:
        base_model travels as `edgetrain serve`'s BASE_MODEL_LABEL extension (docs/service.md)."""
        if base_model is not None:
            labels = {**labels, BASE_MODEL_LABEL: resource_id(base_model).lower()}
        model = automl_v1.Model(
            display_name=display_name,
            dataset_id=resource_id(self.dataset_name(dataset)),
            labels=labels,
            image_object_detection_model_metadata=automl_v1.ImageObjectDetectionModelMetadata(
                model_type=model_type, train_budget_milli_node_hours=budget
            ),
        )
        retry = gretry.Retry(
            predicate=_NOT_APPLIED, initial=0.2, maximum=5.0, timeout=self._settings.retry_deadline_s
        )
        operation = self.client.create_model(parent=self.location_path, model=model, retry=retry)
        return operation.operation.name

    def get_model(self, name: str) -> ModelView:
        return _model_view(self.client.get_model(name=name, retry=self._retry))

    def model_evaluations(self, model: str) -> Evaluations:
        """The model's evaluations (overall and per label) and, when the service compared it with another
        model on the same TEST images, that model's (evaluation.py)."""
        found = self.client.list_model_evaluations(parent=model, filter="", retry=self._retry)
        labels = self.client.get_model(name=model, retry=self._retry).labels
        return automl_evaluations(list(found), dict(labels))

    def export_model(self, model: str, model_format: str, uri_prefix: str) -> str:
        config = automl_v1.ModelExportOutputConfig(
            model_format=model_format, gcs_destination=automl_v1.GcsDestination(output_uri_prefix=uri_prefix)
        )
        operation = self.client.export_model(name=model, output_config=config, retry=self._retry)
        return operation.operation.name

    def delete_model(self, model: str) -> None:
        try:
            self.client.delete_model(name=model, retry=self._retry)
        except gexc.NotFound:
            pass  # already gone: deleting is idempotent for us

    def import_data(self, dataset: str, input_uris: list[str]) -> str:
        not_csv = [uri for uri in input_uris if not uri.lower().endswith(".csv")]
        if not_csv:
            raise gexc.InvalidArgument(
                f"AutoML Vision v1 imports CSV files only, not {', '.join(not_csv)} "
                "(JSONL needs TRAINING_BACKEND=vertex-ai)"
            )
        config = automl_v1.InputConfig(gcs_source=automl_v1.GcsSource(input_uris=input_uris))
        operation = self.client.import_data(
            name=self.dataset_name(dataset), input_config=config, retry=self._retry
        )
        return operation.operation.name

    # ---- long-running operations

    def list_operations(self, filter_: str = "") -> list[OperationView]:
        ops = self.client.transport.operations_client.list_operations(
            self.location_path, filter_, retry=self._retry
        )
        return [_operation_view(op) for op in ops]

    def get_operation(self, name: str) -> OperationView:
        return _operation_view(self.client.transport.operations_client.get_operation(name, retry=self._retry))

    def list_models(self, dataset: str) -> list[ModelView]:
        dataset_id = resource_id(self.dataset_name(dataset))
        request = {"parent": self.location_path, "filter": f"dataset_id={dataset_id}"}
        models = self.client.list_models(request=request, retry=self._retry)
        return [_model_view(m) for m in models]

    # ---- prediction

    def predict(
        self,
        model: str,
        image: bytes,
        score_threshold: float,
        max_boxes: int,
        deadline_s: float | None = None,
    ) -> list[PredictedBox]:
        request = automl_v1.PredictRequest(
            name=model,
            payload=automl_v1.ExamplePayload(image=automl_v1.Image(image_bytes=image)),
            params={"score_threshold": f"{score_threshold:g}", "max_bounding_box_count": str(max_boxes)},
        )
        within: dict = {"retry": self._retry}  # and the method's default timeout per attempt
        if deadline_s is not None:
            within = {"retry": transient_retry(deadline_s), "timeout": deadline_s}
        response = self.prediction_client.predict(request=request, **within)
        boxes = []
        for annotation in response.payload:
            vertices = annotation.image_object_detection.bounding_box.normalized_vertices
            if len(vertices) >= 2:
                corners = (vertices[0].x, vertices[0].y, vertices[1].x, vertices[1].y)
                score = float(annotation.image_object_detection.score)
                boxes.append(PredictedBox(annotation.display_name, score, corners))
        return boxes
