"""The per-dataset training policy, as a pure function over plain data.

Defaults come from the environment (config.Settings); a dataset document may override them under "policy"
({modelType, trainBudgetMilliNodeHours, minNewExamples}); the message itself wins over both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Settings
from .schemas import TrainingRequest

ACTIVE_STATES = ("CREATING", "RUNNING")


@dataclass(frozen=True)
class Decision:
    action: str  # "create", "coalesce" or "skip"
    reason: str
    model_type: str = ""
    budget: int = 0


def decide(
    request: TrainingRequest,
    dataset_doc: dict[str, Any],
    active_training_state: str | None,
    example_count: int | None,
    settings: Settings,
) -> Decision:
    """What to do with a training request for a dataset, given its Firestore document and example count."""
    policy = dataset_doc.get("policy") or {}
    model_type = request.model_type or policy.get("modelType") or settings.default_model_type
    budget = int(
        request.train_budget_milli_node_hours
        or policy.get("trainBudgetMilliNodeHours")
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
    min_new = int(policy.get("minNewExamples", settings.min_new_examples))
    if request.source != "manual" and min_new > 0 and example_count is not None:
        last = int(dataset_doc.get("lastTrainedExampleCount") or 0)
        if example_count - last < min_new:
            return Decision(
                "skip",
                f"only {example_count - last} new examples since the last training ({example_count} now, "
                f"{last} then); the policy needs at least {min_new}",
                model_type,
                budget,
            )
    return Decision("create", "policy allows a training", model_type, budget)
