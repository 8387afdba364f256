"""The RPC table: each method's full gRPC name → request class, response class and use case.

Both transports go through `ServiceApi.call`, so gRPC and REST share validation, errors and behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message

from . import datasets, models, operations
from .config import ServiceConfig
from .protos import Empty, lro, t
from .store import Store
from .vertex import api as vertex

AUTOML = "google.cloud.automl.v1.AutoMl"
PREDICTION = "google.cloud.automl.v1.PredictionService"
OPERATIONS = "google.longrunning.Operations"


@dataclass(frozen=True)
class Method:
    service: str
    name: str
    request: type[Message]
    response: type[Message]
    run: Callable  # (ServiceApi, request) -> response


def _table() -> list[Method]:
    op, dataset, model, ops = lro.Operation, t("Dataset"), t("Model"), operations
    # fmt: off
    automl = [
        ("CreateDataset", op, lambda a, r: datasets.create_dataset(a.store, r)),
        ("GetDataset", dataset, lambda a, r: datasets.get_dataset(a.store, r.name)),
        ("ListDatasets", t("ListDatasetsResponse"), lambda a, r: datasets.list_datasets(a.store, r)),
        ("UpdateDataset", dataset, lambda a, r: datasets.update_dataset(a.store, r)),
        ("DeleteDataset", op, lambda a, r: datasets.delete_dataset(a.store, a.config, r)),
        ("ImportData", op, lambda a, r: datasets.import_data(a.store, a.config, r)),
        ("GetAnnotationSpec", t("AnnotationSpec"), lambda a, r: datasets.get_annotation_spec(a.store, r)),
        ("CreateModel", op, lambda a, r: models.create_model(a.store, r)),
        ("GetModel", model, lambda a, r: models.get_model(a.store, r.name)),
        ("ListModels", t("ListModelsResponse"), lambda a, r: models.list_models(a.store, r)),
        ("UpdateModel", model, lambda a, r: models.update_model(a.store, r)),
        ("DeleteModel", op, lambda a, r: models.delete_model(a.store, a.config, r)),
        ("DeployModel", op, lambda a, r: models.set_deployed(a.store, r.name, True)),
        ("UndeployModel", op, lambda a, r: models.set_deployed(a.store, r.name, False)),
        ("ExportModel", op, lambda a, r: models.export_model(a.store, a.config, r)),
        ("GetModelEvaluation", t("ModelEvaluation"), lambda a, r: models.get_model_evaluation(a.store, r)),
        ("ListModelEvaluations", t("ListModelEvaluationsResponse"),
         lambda a, r: models.list_model_evaluations(a.store, r)),
    ]
    longrunning = [
        ("GetOperation", op, lambda a, r: ops.get_operation(a.store, r)),
        ("ListOperations", lro.ListOperationsResponse, lambda a, r: ops.list_operations(a.store, r)),
        ("CancelOperation", Empty, lambda a, r: ops.cancel_operation(a.store, r)),
        ("DeleteOperation", Empty, lambda a, r: ops.delete_operation(a.store, r)),
        ("WaitOperation", op, lambda a, r: ops.wait_operation(a.store, r)),
    ]
    # fmt: on
    return [
        *(Method(AUTOML, name, t(f"{name}Request"), response, run) for name, response, run in automl),
        Method(
            PREDICTION,
            "Predict",
            t("PredictRequest"),
            t("PredictResponse"),
            lambda a, r: a.predictor.predict(r),
        ),
        *(
            Method(OPERATIONS, name, getattr(lro, f"{name}Request"), response, run)
            for name, response, run in longrunning
        ),
        *(Method(*row) for row in vertex.methods()),
    ]


class ServiceApi:
    """What the transports call: the store, the settings and the predictor, behind one RPC table."""

    def __init__(self, store: Store, config: ServiceConfig):
        from .predict import Predictor

        self.store = store
        self.config = config
        self.predictor = Predictor(store, config)
        self.methods = {f"{m.service}/{m.name}": m for m in _table()}
        vertex.route_operations(self.methods, OPERATIONS)  # Vertex operation names go to the Vertex views
        self.on_enqueue: Callable[[], None] = lambda: None  # the scheduler's wake-up, set by the server

    def call(self, full_name: str, request):
        response = self.methods[full_name].run(self, request)
        if isinstance(response, lro.Operation) and not response.done:
            self.on_enqueue()
        return response
