"""Vertex's REST paths (served on their own port: they have the same shape as AutoML v1's, which Google tells
apart by host). google-cloud-aiplatform's REST client polls operations under `/ui/` rather than `/v1/` (the
first of its http rules that matches), so operation paths answer under both prefixes."""

from __future__ import annotations

import re

from .names import DATASET_SERVICE as DS
from .names import MODEL_SERVICE as MS
from .names import PIPELINE_SERVICE as PS

OPS = "google.longrunning.Operations"
_LOC = r"projects/[^/:]+/locations/[^/:]+"
_DS = _LOC + r"/datasets/[^/:]+"
_MODEL = _LOC + r"/models/[^/:]+"
_TP = _LOC + r"/trainingPipelines/[^/:]+"
_WITH_OPS = _LOC + r"/(?:datasets|models|trainingPipelines)/[^/:]+"
_OP = _WITH_OPS + r"/operations/[^/:]+"

# (HTTP method, path regex for the name after /v1/, RPC, path field, body field or "*" or None)
_V1 = [
    ("POST", rf"({_LOC})/datasets", f"{DS}/CreateDataset", "parent", "dataset"),
    ("GET", rf"({_LOC})/datasets", f"{DS}/ListDatasets", "parent", None),
    ("GET", rf"({_DS})", f"{DS}/GetDataset", "name", None),
    ("DELETE", rf"({_DS})", f"{DS}/DeleteDataset", "name", None),
    ("POST", rf"({_DS}):import", f"{DS}/ImportData", "name", "*"),
    ("POST", rf"({_LOC})/trainingPipelines", f"{PS}/CreateTrainingPipeline", "parent", "training_pipeline"),
    ("GET", rf"({_LOC})/trainingPipelines", f"{PS}/ListTrainingPipelines", "parent", None),
    ("GET", rf"({_TP})", f"{PS}/GetTrainingPipeline", "name", None),
    ("DELETE", rf"({_TP})", f"{PS}/DeleteTrainingPipeline", "name", None),
    ("POST", rf"({_TP}):cancel", f"{PS}/CancelTrainingPipeline", "name", "*"),
    ("GET", rf"({_LOC})/models", f"{MS}/ListModels", "parent", None),
    ("GET", rf"({_MODEL})", f"{MS}/GetModel", "name", None),
    ("DELETE", rf"({_MODEL})", f"{MS}/DeleteModel", "name", None),
    ("POST", rf"({_MODEL}):export", f"{MS}/ExportModel", "name", "*"),
    ("GET", rf"({_MODEL})/evaluations", f"{MS}/ListModelEvaluations", "parent", None),
    ("GET", rf"({_MODEL}/evaluations/[^/:]+)", f"{MS}/GetModelEvaluation", "name", None),
    ("GET", rf"({_MODEL}/evaluations/[^/:]+)/slices", f"{MS}/ListModelEvaluationSlices", "parent", None),
]
_OPERATIONS = [
    ("GET", rf"({_WITH_OPS})/operations", f"{OPS}/ListOperations", "name", None),
    ("GET", rf"({_OP})", f"{OPS}/GetOperation", "name", None),
    ("DELETE", rf"({_OP})", f"{OPS}/DeleteOperation", "name", None),
    ("POST", rf"({_OP}):cancel", f"{OPS}/CancelOperation", "name", "*"),
    ("POST", rf"({_OP}):wait", f"{OPS}/WaitOperation", "name", "*"),
]

ROUTES = [
    (verb, re.compile(rf"^/{prefix}/{pattern}$"), rpc, field, body)
    for prefix, table in (("v1", _V1 + _OPERATIONS), ("ui", _OPERATIONS))
    for verb, pattern, rpc, field, body in table
]
