"""The Vertex rows of the RPC table: (service, method, request class, response class, use case), plus the
routing of google.longrunning calls on Vertex operation names (operations.route_operations)."""

from __future__ import annotations

from ..protos import Empty, lro
from . import datasets as ds
from . import models as ms
from . import pipelines as ps
from .names import DATASET_SERVICE, MODEL_SERVICE, PIPELINE_SERVICE, t
from .operations import route_operations  # noqa: F401  (re-exported for api.py)


def methods() -> list[tuple]:
    op = lro.Operation
    # fmt: off
    datasets = [
        ("CreateDataset", op, lambda a, r: ds.create_dataset(a.store, r)),
        ("GetDataset", t("Dataset"), lambda a, r: ds.get_dataset(a.store, r)),
        ("ListDatasets", t("ListDatasetsResponse"), lambda a, r: ds.list_datasets(a.store, r)),
        ("DeleteDataset", op, lambda a, r: ds.delete_dataset(a.store, a.config, r)),
        ("ImportData", op, lambda a, r: ds.import_data(a.store, a.config, r)),
    ]
    pipelines = [
        ("CreateTrainingPipeline", t("TrainingPipeline"),
         lambda a, r: ps.create_training_pipeline(a.store, r)),
        ("GetTrainingPipeline", t("TrainingPipeline"), lambda a, r: ps.get_training_pipeline(a.store, r)),
        ("ListTrainingPipelines", t("ListTrainingPipelinesResponse"),
         lambda a, r: ps.list_training_pipelines(a.store, r)),
        ("CancelTrainingPipeline", Empty, lambda a, r: ps.cancel_training_pipeline(a.store, r)),
        ("DeleteTrainingPipeline", op, lambda a, r: ps.delete_training_pipeline(a.store, r)),
    ]
    models = [
        ("GetModel", t("Model"), lambda a, r: ms.get_model(a.store, r)),
        ("ListModels", t("ListModelsResponse"), lambda a, r: ms.list_models(a.store, r)),
        ("DeleteModel", op, lambda a, r: ms.delete_model(a.store, a.config, r)),
        ("ExportModel", op, lambda a, r: ms.export_model(a.store, a.config, r)),
        ("ListModelEvaluations", t("ListModelEvaluationsResponse"),
         lambda a, r: ms.list_model_evaluations(a.store, r)),
        ("GetModelEvaluation", t("ModelEvaluation"), lambda a, r: ms.get_model_evaluation(a.store, r)),
        ("ListModelEvaluationSlices", t("ListModelEvaluationSlicesResponse"),
         lambda a, r: ms.list_model_evaluation_slices(a.store, r)),
    ]
    # fmt: on
    services = ((DATASET_SERVICE, datasets), (PIPELINE_SERVICE, pipelines), (MODEL_SERVICE, models))
    return [
        (service, name, t(f"{name}Request"), response, run)
        for service, rows in services
        for name, response, run in rows
    ]
