"""What `edgetrain serve` reports, read through the official AutoML client: its operations by kind."""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import automl_v1

from benchmarks.faults.stack import FaultStack

KINDS = {
    "import_data_details": "import",
    "create_model_details": "train",
    "export_model_details": "export",
    "create_dataset_details": "create_dataset",
    "delete_details": "delete",
}


@dataclass(frozen=True)
class Op:
    name: str
    kind: str
    done: bool
    error_code: int  # 0 when it succeeded or is not done
    error_message: str
    progress: int
    model: str  # a finished training's model ("" otherwise)
    model_dataset: str  # that model's dataset ID
    update_time: float  # seconds since the epoch


def operations(stack: FaultStack, filter_: str = "") -> list[Op]:
    ops = stack.automl.transport.operations_client.list_operations(name=stack.parent, filter_=filter_)
    return [_view(op) for op in ops]


def get(stack: FaultStack, name: str) -> Op:
    return _view(stack.automl.transport.operations_client.get_operation(name))


def _view(op) -> Op:
    meta = automl_v1.OperationMetadata.deserialize(op.metadata.value)
    kind = next((k for field, k in KINDS.items() if field in meta), "other")
    model, dataset = "", ""
    if op.done and op.HasField("response") and kind == "train":
        response = automl_v1.Model.deserialize(op.response.value)
        model, dataset = response.name, response.dataset_id
    return Op(
        name=op.name,
        kind=kind,
        done=op.done,
        error_code=op.error.code if op.HasField("error") else 0,
        error_message=op.error.message if op.HasField("error") else "",
        progress=meta.progress_percent,
        model=model,
        model_dataset=dataset,
        update_time=meta.update_time.timestamp() if meta.update_time else 0.0,
    )
