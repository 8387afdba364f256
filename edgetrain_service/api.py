"""The RPC table: each method's full gRPC name → request class, response class and use case.

Both transports go through `ServiceApi.call`, so gRPC and REST share validation, errors and behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import datasets, operations
from .config import ServiceConfig
from .protos import Empty, lro, t
from .store import Store

AUTOML = "google.cloud.automl.v1.AutoMl"
PREDICTION = "google.cloud.automl.v1.PredictionService"
OPERATIONS = "google.longrunning.Operations"


@dataclass(frozen=True)
class Method:
    service: str
    name: str
    request: type
    response: type
    run: Callable  # (ServiceApi, request) -> response


def _table() -> list[Method]:
    from . import models

    op = lro.Operation
    return [
        Method(
            AUTOML,
            "CreateDataset",
            t("CreateDatasetRequest"),
            op,
            lambda a, r: datasets.create_dataset(a.store, r),
        ),
        Method(
            AUTOML,
            "GetDataset",
            t("GetDatasetRequest"),
            t("Dataset"),
            lambda a, r: datasets.get_dataset(a.store, r.name),
        ),
        Method(
            AUTOML,
            "ListDatasets",
            t("ListDatasetsRequest"),
            t("ListDatasetsResponse"),
            lambda a, r: datasets.list_datasets(a.store, r),
        ),
        Method(
            AUTOML,
            "UpdateDataset",
            t("UpdateDatasetRequest"),
            t("Dataset"),
            lambda a, r: datasets.update_dataset(a.store, r),
        ),
        Method(
            AUTOML,
            "DeleteDataset",
            t("DeleteDatasetRequest"),
            op,
            lambda a, r: datasets.delete_dataset(a.store, a.config, r),
        ),
        Method(
            AUTOML,
            "ImportData",
            t("ImportDataRequest"),
            op,
            lambda a, r: datasets.import_data(a.store, a.config, r),
        ),
        Method(
            AUTOML,
            "GetAnnotationSpec",
            t("GetAnnotationSpecRequest"),
            t("AnnotationSpec"),
            lambda a, r: datasets.get_annotation_spec(a.store, r),
        ),
        Method(
            AUTOML, "CreateModel", t("CreateModelRequest"), op, lambda a, r: models.create_model(a.store, r)
        ),
        Method(
            AUTOML,
            "GetModel",
            t("GetModelRequest"),
            t("Model"),
            lambda a, r: models.get_model(a.store, r.name),
        ),
        Method(
            AUTOML,
            "ListModels",
            t("ListModelsRequest"),
            t("ListModelsResponse"),
            lambda a, r: models.list_models(a.store, r),
        ),
        Method(
            AUTOML,
            "UpdateModel",
            t("UpdateModelRequest"),
            t("Model"),
            lambda a, r: models.update_model(a.store, r),
        ),
        Method(
            AUTOML,
            "DeleteModel",
            t("DeleteModelRequest"),
            op,
            lambda a, r: models.delete_model(a.store, a.config, r),
        ),
        Method(
            AUTOML,
            "DeployModel",
            t("DeployModelRequest"),
            op,
            lambda a, r: models.set_deployed(a.store, r.name, True),
        ),
        Method(
            AUTOML,
            "UndeployModel",
            t("UndeployModelRequest"),
            op,
            lambda a, r: models.set_deployed(a.store, r.name, False),
        ),
        Method(
            AUTOML,
            "ExportModel",
            t("ExportModelRequest"),
            op,
            lambda a, r: models.export_model(a.store, a.config, r),
        ),
        Method(
            AUTOML,
            "GetModelEvaluation",
            t("GetModelEvaluationRequest"),
            t("ModelEvaluation"),
            lambda a, r: models.get_model_evaluation(a.store, r),
        ),
        Method(
            AUTOML,
            "ListModelEvaluations",
            t("ListModelEvaluationsRequest"),
            t("ListModelEvaluationsResponse"),
            lambda a, r: models.list_model_evaluations(a.store, r),
        ),
        Method(
            PREDICTION,
            "Predict",
            t("PredictRequest"),
            t("PredictResponse"),
            lambda a, r: a.predictor.predict(r),
        ),
        Method(
            OPERATIONS,
            "GetOperation",
            lro.GetOperationRequest,
            op,
            lambda a, r: operations.get_operation(a.store, r),
        ),
        Method(
            OPERATIONS,
            "ListOperations",
            lro.ListOperationsRequest,
            lro.ListOperationsResponse,
            lambda a, r: operations.list_operations(a.store, r),
        ),
        Method(
            OPERATIONS,
            "CancelOperation",
            lro.CancelOperationRequest,
            Empty,
            lambda a, r: operations.cancel_operation(a.store, r),
        ),
        Method(
            OPERATIONS,
            "DeleteOperation",
            lro.DeleteOperationRequest,
            Empty,
            lambda a, r: operations.delete_operation(a.store, r),
        ),
        Method(
            OPERATIONS,
            "WaitOperation",
            lro.WaitOperationRequest,
            op,
            lambda a, r: operations.wait_operation(a.store, r),
        ),
    ]


class ServiceApi:
    """What the transports call: the store, the settings and the predictor, behind one RPC table."""

    def __init__(self, store: Store, config: ServiceConfig):
        from .predict import Predictor

        self.store = store
        self.config = config
        self.predictor = Predictor(store, config)
        self.methods = {f"{m.service}/{m.name}": m for m in _table()}
        self.on_enqueue: Callable[[], None] = lambda: None  # the scheduler's wake-up, set by the server

    def call(self, full_name: str, request):
        response = self.methods[full_name].run(self, request)
        if isinstance(response, lro.Operation) and not response.done:
            self.on_enqueue()
        return response
