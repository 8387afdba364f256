"""Long-running operations: creating, progressing and finishing them, and the google.longrunning use cases
(Get, List with AutoML's filter, Cancel, Delete, Wait)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence

from google.protobuf.message import Message
from google.rpc import code_pb2

from . import names
from .errors import FailedPrecondition, NotFound
from .filters import compile_operation_filter
from .protos import Any, Empty, OperationMetadata, Status, lro, now
from .resources import MAX_PAGE_BYTES, page_size_of, parse_page_token
from .store import Store

CANCELLED = code_pb2.CANCELLED  # 1: what a cancelled AutoML operation reports
MAX_WAIT_SECONDS = 600.0
MAX_CONCURRENT_WAITS = 8  # of the 16 gRPC and 16 REST threads: the rest stay free for other calls
_WAIT_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_WAITS)


def metadata_of(op: lro.Operation) -> OperationMetadata:
    meta = OperationMetadata()
    op.metadata.Unpack(meta)
    return meta


def start(
    db: sqlite3.Connection,
    parent: str,
    works_on: str,
    details: str,
    details_msg: Message | None = None,
    op_id: str | None = None,
) -> lro.Operation:
    """Insert a new, not-done operation; its metadata gets the `details` member (create_model_details…)."""
    op_id = op_id or names.new_id()
    meta = OperationMetadata(create_time=now(), update_time=now(), progress_percent=0)
    getattr(meta, details).SetInParent()
    if details_msg is not None:
        getattr(meta, details).CopyFrom(details_msg)
    op = lro.Operation(name=f"{parent}/operations/{op_id}", done=False)
    op.metadata.Pack(meta)
    Store.insert_operation(db, op.name, parent, op_id, works_on, False, op.SerializeToString())
    return op


def done_now(
    db: sqlite3.Connection, parent: str, works_on: str, details: str, response: Message
) -> lro.Operation:
    """An operation that is complete when it is returned (deletes)."""
    op = start(db, parent, works_on, details)
    return finish(db, op.name, response=response)


def _load(db: sqlite3.Connection, name: str) -> lro.Operation | None:
    row = db.execute("SELECT proto FROM operations WHERE name=?", (name,)).fetchone()
    return None if row is None else lro.Operation.FromString(row["proto"])


def progress(db: sqlite3.Connection, name: str, percent: int) -> None:
    op = _load(db, name)
    if op is None or op.done:
        return
    meta = metadata_of(op)
    meta.progress_percent = max(0, min(99, int(percent)))
    meta.update_time.CopyFrom(now())
    op.metadata.Pack(meta)
    Store.update_operation(db, name, op.SerializeToString(), False)


def finish(
    db: sqlite3.Connection,
    name: str,
    response: Message | None = None,
    error: tuple[int, str] | None = None,
    partial_failures: Sequence[Status] = (),
    details_msg: Message | None = None,
) -> lro.Operation | None:
    """Mark an operation done with a response or an error (code, message), and its job finished. The
    operation is left as it is if it was done already (or deleted once done)."""
    db.execute("UPDATE jobs SET state='finished' WHERE op_name=?", (name,))
    op = _load(db, name)
    if op is None or op.done:
        return op
    meta = metadata_of(op)
    meta.update_time.CopyFrom(now())
    meta.partial_failures.extend(partial_failures)
    if details_msg is not None:
        getattr(meta, meta.WhichOneof("details")).CopyFrom(details_msg)
    if error is None:
        meta.progress_percent = 100
        packed = Any()
        packed.Pack(response if response is not None else Empty())
        op.response.CopyFrom(packed)
    else:
        op.error.CopyFrom(Status(code=error[0], message=error[1]))
    op.metadata.Pack(meta)
    op.done = True
    Store.update_operation(db, name, op.SerializeToString(), True)
    return op


def unfinished_work_on(db: sqlite3.Connection, resource: str) -> str | None:
    """The name of a queued or running operation that works on `resource` or trains on it (a dataset), so a
    delete in the same transaction can refuse instead of pulling files from under it."""
    row = db.execute(
        "SELECT o.name FROM jobs j JOIN operations o ON o.name = j.op_name "
        "WHERE j.state IN ('queued', 'running') AND o.done = 0 "
        "AND (o.works_on = ? OR json_extract(j.payload, '$.dataset') = ?) ORDER BY j.seq LIMIT 1",
        (resource, resource),
    ).fetchone()
    return None if row is None else row["name"]


def refuse_if_busy(db: sqlite3.Connection, resource: str, what: str) -> None:
    busy = unfinished_work_on(db, resource)
    if busy is not None:
        raise FailedPrecondition(
            f"{what} {resource} is in use by operation {busy}, which has not finished; wait for it or "
            f"cancel it, then delete the {what.lower()}."
        )


def cancel_requested(store: Store, name: str) -> bool:
    row = store.query_one("SELECT cancel_requested FROM operations WHERE name=?", (name,))
    return bool(row is not None and row["cancel_requested"])


# ---- google.longrunning.Operations use cases
def get_operation(store: Store, request: lro.GetOperationRequest) -> lro.Operation:
    names.parse_name(request.name, "operations")
    row = store.get_operation(request.name)
    if row is None:
        raise NotFound(f"Operation {request.name} not found.")
    return lro.Operation.FromString(row["proto"])


def list_operations(store: Store, request: lro.ListOperationsRequest) -> lro.ListOperationsResponse:
    parent = names.parse_location(request.name, "name")
    condition, params = compile_operation_filter(request.filter)
    size = page_size_of(request.page_size)
    after = parse_page_token(request.page_token)
    rows = store.query(
        f"SELECT seq, proto FROM operations WHERE parent=? AND seq>? AND ({condition}) ORDER BY seq LIMIT ?",
        (parent, after, *params, size + 1),
    )
    response = lro.ListOperationsResponse()
    page_bytes = 0
    for number, row in enumerate(rows):
        full = number == size or (number and page_bytes + len(row["proto"]) > MAX_PAGE_BYTES)
        if full:
            response.next_page_token = str(rows[number - 1]["seq"])
            break
        response.operations.add().MergeFromString(row["proto"])
        page_bytes += len(row["proto"])
    return response


def cancel_operation(store: Store, request: lro.CancelOperationRequest) -> Empty:
    """Best effort: a queued job ends now with CANCELLED; a running one stops at its next check."""
    get_operation(store, lro.GetOperationRequest(name=request.name))
    with store.tx() as db:
        db.execute("UPDATE operations SET cancel_requested=1 WHERE name=?", (request.name,))
        job = db.execute("SELECT state FROM jobs WHERE op_name=?", (request.name,)).fetchone()
        if job is not None and job["state"] == "queued":
            finish(
                db, request.name, error=(CANCELLED, "Operation cancelled by the caller before it started.")
            )
    return Empty()


def delete_operation(store: Store, request: lro.DeleteOperationRequest) -> Empty:
    """The caller is no longer interested in a finished operation's result. A running operation is refused
    (as Google's LRO services do): its row is what the job's outcome and a restart's recovery are keyed on."""
    op = get_operation(store, lro.GetOperationRequest(name=request.name))
    with store.tx() as db:
        if not op.done:
            raise FailedPrecondition(
                f"Operation {request.name} is still running; cancel it and wait until it is done, "
                "then delete it."
            )
        db.execute("DELETE FROM operations WHERE name=? AND done=1", (request.name,))
    return Empty()


def wait_operation(store: Store, request: lro.WaitOperationRequest) -> lro.Operation:
    """Block until the operation is done or the timeout passes. At most MAX_CONCURRENT_WAITS callers block at
    once (each holds a request thread); others get the operation as it is now, as GetOperation would, and
    poll again: WaitOperation may return before the operation is done."""
    if not _WAIT_SLOTS.acquire(blocking=False):
        return get_operation(store, lro.GetOperationRequest(name=request.name))
    try:
        return _wait(store, request)
    finally:
        _WAIT_SLOTS.release()


def _wait(store: Store, request: lro.WaitOperationRequest) -> lro.Operation:
    limit = MAX_WAIT_SECONDS
    if request.HasField("timeout"):
        limit = min(limit, request.timeout.ToTimedelta().total_seconds())
    deadline = time.monotonic() + limit
    while True:
        op = get_operation(store, lro.GetOperationRequest(name=request.name))
        if op.done or time.monotonic() >= deadline:
            return op
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
