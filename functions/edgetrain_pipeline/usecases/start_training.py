"""start_training: a dataset import finished (or someone asked) → at most one CreateModel per request."""

from __future__ import annotations

from google.api_core import exceptions as gexc

from .. import import_records
from .. import training_records as records
from ..deps import Deps
from ..envelope import PubSubEvent
from ..errors import TransientFailureException
from ..model_evaluations import COMPARE_TO_LABEL
from ..resource_names import resource_id
from ..retrying import is_retry_exhausted
from ..schemas import TrainingRequest
from .common import (
    Outcome,
    flush_outbox,
    is_permanent_api_error,
    parse_or_none,
    reject,
    reused_request_id,
    transient,
)

FUNCTION = records.FUNCTION


def start_training(deps: Deps, event: PubSubEvent) -> Outcome:
    request, problem = parse_or_none(event, TrainingRequest)
    if request is None:
        return reject(deps, FUNCTION, event, problem)
    key = request.request_id or event.event_id
    claimed = deps.store.get_event(FUNCTION, key) or {}
    earlier = claimed.get("dataset")
    if (
        request.request_id
        and isinstance(earlier, str)
        and resource_id(earlier) != resource_id(request.dataset)
    ):
        return reject(deps, FUNCTION, event, reused_request_id(key, f"a training of {earlier}"))
    if claimed.get("outcome"):  # cheap path for redeliveries
        return Outcome("duplicate", f"request {key} was already handled")
    dataset = deps.backend.dataset_name(request.dataset)
    try:
        found = deps.backend.get_dataset(dataset)
    except gexc.NotFound:
        return reject(deps, FUNCTION, event, f"dataset {dataset} does not exist")
    except gexc.GoogleAPIError as exc:
        if is_retry_exhausted(exc):
            raise transient(FUNCTION, "GetDataset", exc) from exc
        return reject(deps, FUNCTION, event, f"GetDataset {dataset} failed: {getattr(exc, 'message', exc)}")
    import_records.record_example_count(deps.store, request, found.example_count)
    claim = records.claim_training(
        deps.store,
        key,
        event.event_id,
        request,
        dataset,
        found.example_count,
        deps.settings,
        dataset_display_name=found.display_name,
    )
    if claim.outcome == "in_progress":  # acknowledge only once the outcome is recorded: redeliver later
        raise TransientFailureException(claim.reason)
    if claim.outcome == "rejected":
        return reject(deps, FUNCTION, event, claim.reason)
    if claim.outcome != "created" or claim.training is None:
        return Outcome(claim.outcome, claim.reason, {"trainingId": (claim.training or {}).get("trainingId")})
    return launch(deps, claim.training)


def base_model_for(deps: Deps, training: dict) -> str | None:
    """The dataset's champion when RETRAIN_FROM_CHAMPION is on (the default) and it has the training's model
    type (a warm start keeps the type): the training starts from its weights (Vertex's uptrainBaseModelId,
    `edgetrain serve`'s edgetrain-base-model label). None trains from the backend's own starting point, as
    does a champion the backend no longer has (deleted outside the pipeline)."""
    if not deps.settings.retrain_from_champion:
        return None
    dataset = deps.store.get("datasets", training["datasetId"]) or {}
    champion_training = dataset.get("championTrainingId")
    if not dataset.get("championModel") or not champion_training:
        return None
    champion = deps.store.get("trainings", champion_training) or {}
    same_type = champion.get("modelType") == training["modelType"] and not champion.get("modelDeleted")
    if not same_type:
        return None
    try:
        deps.backend.get_model(dataset["championModel"])
    except gexc.NotFound:
        return None
    return dataset["championModel"]


def compare_to_label(deps: Deps, training: dict) -> dict[str, str]:
    """COMPARE_TO_LABEL naming the dataset's champion, if it has one: the backend then also evaluates the
    champion on this training's TEST images, and the promotion rule compares the two (promotion.py)."""
    champion = (deps.store.get("datasets", training["datasetId"]) or {}).get("championModel")
    return {COMPARE_TO_LABEL: resource_id(champion).lower()} if champion else {}


def launch(deps: Deps, training: dict) -> Outcome:
    """Call CreateModel for a claimed training and record its operation (or why it could not start)."""
    training_id = training["trainingId"]
    try:
        base_model = base_model_for(deps, training)
        operation = deps.backend.create_model(
            training["dataset"],
            training["displayName"],
            training["modelType"],
            training["trainBudgetMilliNodeHours"],
            {records.TRAINING_LABEL: training_id, **compare_to_label(deps, training)},
            base_model=base_model,
        )
    except Exception as exc:
        if is_permanent_api_error(exc):
            reason = f"CreateModel rejected: {getattr(exc, 'message', exc)}"
            flush_outbox(deps, records.finish_training(deps.store, training_id, "FAILED", {"error": reason}))
            return Outcome("failed", reason, {"trainingId": training_id})
        records.release_lease(deps.store, training_id, f"CreateModel: {exc}")
        raise transient(FUNCTION, "CreateModel", exc) from exc
    records.record_operation(deps.store, training_id, operation, base_model)
    return Outcome("created", operation, {"trainingId": training_id, "operation": operation})
