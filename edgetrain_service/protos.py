"""The protobuf classes the service speaks (the _pb classes behind google-cloud-automl's proto-plus types)."""

from __future__ import annotations

from google.cloud.automl_v1 import types as _t
from google.longrunning import operations_pb2 as lro  # noqa: F401  (re-exported)
from google.protobuf import any_pb2, empty_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import status_pb2

Any = any_pb2.Any
Empty = empty_pb2.Empty
Status = status_pb2.Status

Dataset = _t.Dataset.pb()
Model = _t.Model.pb()
ModelEvaluation = _t.ModelEvaluation.pb()
AnnotationSpec = _t.AnnotationSpec.pb()
OperationMetadata = _t.OperationMetadata.pb()
ImageObjectDetectionModelMetadata = _t.ImageObjectDetectionModelMetadata.pb()
PredictResponse = _t.PredictResponse.pb()
AnnotationPayload = _t.AnnotationPayload.pb()
DeploymentState = _t.Model.DeploymentState


def now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


def t(type_name: str):
    """The _pb class of any google.cloud.automl_v1 type, by name (e.g. "CreateDatasetRequest")."""
    return getattr(_t, type_name).pb()
