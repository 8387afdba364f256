"""import_dataset: new labeled data arrived → ImportData (the poller announces the finished import)."""

from __future__ import annotations

from google.api_core import exceptions as gexc

from .. import import_records
from ..deps import Deps
from ..envelope import PubSubEvent
from ..resource_names import resource_id
from ..schemas import ImportRequest
from .common import Outcome, is_permanent_api_error, parse_or_none, reject, reused_request_id, transient

FUNCTION = import_records.FUNCTION


def import_dataset(deps: Deps, event: PubSubEvent) -> Outcome:
    request, problem = parse_or_none(event, ImportRequest)
    if request is None:
        return reject(deps, FUNCTION, event, problem)
    key = request.request_id or event.event_id
    dataset = deps.backend.dataset_name(request.dataset)
    record = import_records.claim_import(
        deps.store, key, event.event_id, dataset, request.input_uris, deps.settings.create_lease_s
    )
    if record is None:
        earlier = deps.store.get("imports", import_records.import_id_for(key)) or {}
        earlier_id = resource_id(str(earlier.get("dataset") or ""))
        same = (earlier_id, earlier.get("inputUris")) == (resource_id(dataset), request.input_uris)
        if request.request_id and earlier and not same:
            what = f"an import of {earlier.get('inputUris')} into {earlier.get('dataset')}"
            return reject(deps, FUNCTION, event, reused_request_id(key, what))
        return Outcome("duplicate", f"import request {key} was already handled")
    return launch_import(deps, record)


def launch_import(deps: Deps, record: dict) -> Outcome:
    """Call ImportData for a claimed import and record its operation (or why it cannot run). A transient
    failure releases the lease: the poller tries again on its next tick."""
    import_id = record["importId"]
    try:
        operation = deps.backend.import_data(record["dataset"], record["inputUris"])
    except Exception as exc:
        if is_permanent_api_error(exc):
            reason = f"ImportData rejected: {getattr(exc, 'message', exc)}"
            failed = {"state": "FAILED", "error": reason, "createLeaseUntil": None}
            if isinstance(exc, gexc.NotFound):  # no such dataset (a typo): no dataset row for it either
                import_records.fail_import_of_unknown_dataset(deps.store, record, failed)
            else:
                deps.store.update("imports", import_id, failed)
            return Outcome("failed", reason, {"importId": import_id})
        deps.store.update("imports", import_id, {"createLeaseUntil": None, "lastError": f"ImportData: {exc}"})
        raise transient(FUNCTION, "ImportData", exc) from exc
    deps.store.update(
        "imports",
        import_id,
        {"state": "RUNNING", "operation": operation, "createLeaseUntil": None, "lastError": None},
    )
    return Outcome("importing", operation, {"importId": import_id, "operation": operation})
