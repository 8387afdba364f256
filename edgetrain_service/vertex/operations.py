"""Vertex long-running operations: views of the AutoML operations that do the work.

A Vertex operation is a record (`vertex_operation` in the resources table) naming the AutoML operation behind
it and what kind of work it is. Reading it translates the AutoML operation on the fly: Vertex's metadata type
for the kind (GenericOperationMetadata inside), Vertex's response type, and for imports the partial failures
pointed back at the caller's own files and lines. google.longrunning calls on Vertex names land here; the
rest go to the AutoML use cases (`route_operations`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import sqlite3
from dataclasses import dataclass, field

from google.rpc import code_pb2

from .. import operations as automl_ops
from ..errors import NotFound, ServiceError, invalid_field, shorten
from ..importer import MAX_FAILURE_BYTES
from ..protos import Empty, Status, lro
from ..protos import t as automl_t
from ..store import Store
from . import names
from .views import dataset_view

KIND = "vertex_operation"
METADATA = {
    "create_dataset": "CreateDatasetOperationMetadata",
    "import": "ImportDataOperationMetadata",
    "delete": "DeleteOperationMetadata",
    "export": "ExportModelOperationMetadata",
}
MAX_PARTIAL_FAILURES = 20  # Vertex's GenericOperationMetadata holds at most 20
_FAILURE = re.compile(r"^Error in (\S+) line (\d+): (.*)$", re.DOTALL)


@dataclass
class Record:
    name: str
    internal: str  # the AutoML operation doing the work
    kind: str  # a key of METADATA
    failures: list[str] = field(default_factory=list)  # the first rows refused before the job started
    refused: int = 0  # how many were refused (records written before it was kept hold them all in `failures`)
    sources: dict[str, dict] = field(default_factory=dict)  # converted CSV -> {"uri", "lines"}


def record(db: sqlite3.Connection, resource: str, internal: str, kind: str, **extra) -> str:
    """Store the Vertex operation for AutoML operation `internal`, working on `resource`; returns its name."""
    name = names.operation_name(resource, internal.rsplit("/", 1)[1])
    body = Record(name, internal, kind, **extra)
    Store.put_resource(
        db, name, KIND, resource, json.dumps(dataclasses.asdict(body)).encode(), label=internal
    )
    return name


def find(store: Store, name: str) -> Record:
    blob = store.get_resource(name, KIND)
    if blob is None:
        raise NotFound(f"Operation {name} not found.")
    return Record(**json.loads(blob))


def view(store: Store, rec: Record) -> lro.Operation:
    row = store.get_operation(rec.internal)
    if row is None:
        raise NotFound(f"Operation {rec.name} not found (its AutoML operation {rec.internal} was deleted).")
    inner = lro.Operation.FromString(row["proto"])
    auto = automl_ops.metadata_of(inner)
    generic = names.t("GenericOperationMetadata")(create_time=auto.create_time, update_time=auto.update_time)
    generic.partial_failures.extend(_partial_failures(rec, auto.partial_failures))
    meta = names.t(METADATA[rec.kind])(generic_metadata=generic)
    if rec.kind == "export":
        meta.output_info.artifact_output_uri = auto.export_model_details.output_info.gcs_output_directory
    out = lro.Operation(name=rec.name, done=inner.done)
    out.metadata.Pack(meta)
    if inner.HasField("error"):
        out.error.CopyFrom(inner.error)
    elif inner.done:
        out.response.Pack(_response(rec, inner))
    return out


def _response(rec: Record, inner: lro.Operation):
    if rec.kind == "create_dataset":
        dataset = automl_t("Dataset")()
        inner.response.Unpack(dataset)
        return dataset_view(dataset)
    if rec.kind == "import":
        return names.t("ImportDataResponse")()
    if rec.kind == "export":
        return names.t("ExportModelResponse")()
    return Empty()


def _partial_failures(rec: Record, job_failures) -> list[Status]:
    """The converter's refusals, then the import job's, pointed at the caller's files; at most 20, the last
    counting the rest when there are more. Only the statuses returned are built."""
    total = max(rec.refused, len(rec.failures)) + len(job_failures)
    shown = total if total <= MAX_PARTIAL_FAILURES else MAX_PARTIAL_FAILURES - 1
    messages = rec.failures[:shown]
    messages += [_pointed(rec, status.message) for status in job_failures[: shown - len(messages)]]
    statuses = [
        Status(code=code_pb2.INVALID_ARGUMENT, message=shorten(m, MAX_FAILURE_BYTES)) for m in messages
    ]
    if total > shown:
        statuses.append(
            Status(
                code=code_pb2.INVALID_ARGUMENT,
                message=f"... and {total - shown} more rows were rejected (Vertex reports at most "
                f"{MAX_PARTIAL_FAILURES})",
            )
        )
    return statuses


def _pointed(rec: Record, message: str) -> str:
    """The import job's `message` naming the caller's file and line instead of the converted CSV's; as it is
    when it names no line the conversion wrote."""
    match = _FAILURE.match(message)
    source = rec.sources.get(match.group(1)) if match else None
    if match is None or source is None or not 1 <= int(match.group(2)) <= len(source["lines"]):
        return message
    return f"Error in {source['uri']} line {source['lines'][int(match.group(2)) - 1]}: {match.group(3)}"


# ---- google.longrunning.Operations on Vertex names
def get_operation(store: Store, request) -> lro.Operation:
    names.operation_parent(request.name)
    return view(store, find(store, request.name))


def list_operations(store: Store, request) -> lro.ListOperationsResponse:
    text = request.filter.strip().replace(" ", "")
    if text not in ("", "done=true", "done=false"):
        raise invalid_field("filter", f"{request.filter!r} is not supported; use done=true or done=false")
    if request.page_token:
        raise invalid_field("page_token", "this service returns every operation of a resource in one page")
    rows = store.list_resources(KIND, request.name)
    response = lro.ListOperationsResponse()
    for row in rows:
        op = view(store, Record(**json.loads(row["proto"])))
        if text in ("", f"done={str(op.done).lower()}"):
            response.operations.append(op)
    return response


@contextlib.contextmanager
def naming(internal: str, name: str):
    """The AutoML use cases' errors about operation `internal` name `name`, the one the caller knows."""
    try:
        yield
    except ServiceError as error:
        if internal not in error.message:
            raise
        raise type(error)(error.message.replace(internal, name), error.field) from error


def cancel_operation(store: Store, request) -> Empty:
    rec = find(store, request.name)
    with naming(rec.internal, rec.name):
        return automl_ops.cancel_operation(store, lro.CancelOperationRequest(name=rec.internal))


def delete_operation(store: Store, request) -> Empty:
    rec = find(store, request.name)
    with naming(rec.internal, rec.name):
        automl_ops.delete_operation(store, lro.DeleteOperationRequest(name=rec.internal))
    with store.tx() as db:
        db.execute("DELETE FROM resources WHERE name=? AND kind=?", (rec.name, KIND))
    return Empty()


def wait_operation(store: Store, request) -> lro.Operation:
    rec = find(store, request.name)
    inner = lro.WaitOperationRequest(name=rec.internal)
    if request.HasField("timeout"):
        inner.timeout.CopyFrom(request.timeout)
    with naming(rec.internal, rec.name):
        automl_ops.wait_operation(store, inner)
    return view(store, rec)


_VERTEX = {
    "GetOperation": (get_operation, names.is_operation),
    "ListOperations": (list_operations, names.is_operations_parent),
    "CancelOperation": (cancel_operation, names.is_operation),
    "DeleteOperation": (delete_operation, names.is_operation),
    "WaitOperation": (wait_operation, names.is_operation),
}


def route_operations(methods: dict, service: str) -> None:
    """Send google.longrunning calls on Vertex names to this module; AutoML's names keep their use cases."""
    for method, (vertex_run, is_vertex) in _VERTEX.items():
        automl = methods[f"{service}/{method}"]

        def run(api, request, automl_run=automl.run, vertex_run=vertex_run, is_vertex=is_vertex):
            if is_vertex(request.name):
                return vertex_run(api.store, request)
            return automl_run(api, request)

        methods[f"{service}/{method}"] = dataclasses.replace(automl, run=run)
