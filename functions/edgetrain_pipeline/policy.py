"""The per-dataset training policy, as a pure function over plain data.

Defaults come from the environment (config.Settings); a dataset document may override them under "policy"
({modelType, trainBudgetMilliNodeHours, minNewExamples}); the message itself wins over both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .config import Settings
from .envelope import validation_reasons
from .schemas import DatasetPolicy, TrainingRequest

ACTIVE_STATES = ("CREATING", "RUNNING")


class InvalidPolicyError(ValueError):
    """datasets/{id}.policy cannot be applied; the message says which field and how to go on."""


@dataclass(frozen=True)
class Decision:
    action: str  # "create", "coalesce", "skip" or "reject" (the policy cannot be applied)
    reason: str
    model_type: str = ""
    budget: int = 0


def decide(
    request: TrainingRequest,
    dataset_id: str,
    dataset_doc: dict[str, Any],
    active_training_state: str | None,
    example_count: int | None,
    settings: Settings,
) -> Decision:
    """What to do with a training request for a dataset, given its Firestore document and example count.

    Raises InvalidPolicyError when the dataset's policy is not one (an operator's edit gone wrong)."""
    policy = read_policy(dataset_doc, f"datasets/{dataset_id}.policy")
    model_type = request.model_type or policy.model_type or settings.default_model_type
    budget = (
        request.train_budget_milli_node_hours
        or policy.train_budget_milli_node_hours
        or settings.default_budget_milli_node_hours
    )
    if active_training_state in ACTIVE_STATES:
        return Decision(
            "coalesce",
            f"training {dataset_doc.get('activeTraining')} is {active_training_state}; "
            "this request runs when it ends",
            model_type,
            budget,
        )
    min_new = settings.min_new_examples if policy.min_new_examples is None else policy.min_new_examples
    if request.source != "manual" and min_new > 0 and example_count is not None:
        last = dataset_doc.get("lastTrainedExampleCount")
        last = last if isinstance(last, int) else 0  # unknown: as if never trained
        if example_count - last < min_new:
            return Decision(
                "skip",
                f"only {example_count - last} new examples since the last training ({example_count} now, "
                f"{last} then); the policy needs at least {min_new}",
                model_type,
                budget,
            )
    return Decision("create", "policy allows a training", model_type, budget)


def read_policy(dataset_doc: dict[str, Any], name: str) -> DatasetPolicy:
    """The dataset's policy; InvalidPolicyError names each bad field under `name`, the policy's own."""
    policy = dataset_doc.get("policy") or {}
    if not isinstance(policy, dict):
        raise InvalidPolicyError(f"{name}: must be a map, not {policy!r}")
    try:
        return DatasetPolicy.model_validate(policy)
    except ValidationError as exc:
        raise InvalidPolicyError(validation_reasons(exc, prefix=f"{name}.")) from None
