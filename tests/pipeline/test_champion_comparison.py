"""start_training names the champion to compare with; export_and_notify decides on the two evaluations of the
same TEST images and records both (real Firestore emulator, the fake backend one layer down)."""

from __future__ import annotations

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.model_evaluations import COMPARE_TO_LABEL, Evaluations
from edgetrain_pipeline.usecases.exports import export_and_notify
from edgetrain_pipeline.usecases.poll_operations import poll_operations
from edgetrain_pipeline.usecases.start_training import start_training

from .test_export_and_notify import as_event, finish_exports, notifications


def figures(overall: float, digest: str = "d1", **labels: float) -> dict:
    return {
        "boundingBoxMeanAveragePrecision": overall,
        "meanAveragePrecisionAt50": overall,
        "evaluatedBoundingBoxCount": 40,
        "curves": [],
        "imageCount": 12,
        "testImagesDigest": digest,
        "perLabel": [
            {
                "label": name,
                "annotationSpecId": str(k),
                "ap50": ap,
                "ap5095": ap / 2,
                "boxes": 10,
                "curve50": {"confidence": [0.5], "recall": [ap], "precision": [0.9]},
            }
            for k, (name, ap) in enumerate(labels.items())
        ],
    }


def train(deps, own: dict, champion: dict | None = None, latency=(10.0, 10.0)) -> dict:
    """One training of dataset cards that the backend reports with `own` and, when it was asked to compare
    and `champion` is given, the champion's evaluation."""
    deps.backend.datasets["cards"] += 10
    start_training(deps, as_event({"schemaVersion": 1, "dataset": "cards"}))
    (running,) = deps.store.query("trainings", "state", "==", "RUNNING")
    model = deps.backend.succeed(running["operation"])
    labels = dict(model.labels)
    compared = labels.get(COMPARE_TO_LABEL, "").upper() if champion is not None else ""
    deps.backend.compared[model.name] = Evaluations(
        own,
        latency[0],
        champion if compared else None,
        compared or None,
        latency[1] if compared else None,
    )
    before = len(deps.publisher.on(topics.TOPIC_TRAINING_FINISHED))
    poll_operations(deps)
    finished = deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)[before]
    export_and_notify(deps, as_event(finished))
    finish_exports(deps)
    return deps.store.get("trainings", finished["trainingId"])


def champion_first(deps) -> dict:
    first = train(deps, figures(0.60, ace=0.80, ten=0.60))
    assert first["decidedBy"] == "first-model" and "comparison" not in first
    return first


@pytest.mark.emulators
def test_a_challenger_worse_on_one_label_is_refused_with_that_label_named(deps):
    first = champion_first(deps)
    champion_id = first["model"].rsplit("/", 1)[1]

    second = train(deps, figures(0.70, ace=0.95, ten=0.50), figures(0.60, ace=0.80, ten=0.60))

    create = [c for c in deps.backend.calls if c[0] == "create_model"]
    assert COMPARE_TO_LABEL not in create[0][5]  # no champion yet
    assert create[1][5][COMPARE_TO_LABEL] == champion_id.lower()
    assert second["exportState"] == "REJECTED" and second["promoted"] is False
    comparison = second["comparison"]
    assert comparison["decidedBy"] == "label-drop" and comparison["sameImages"] is True
    assert comparison["championModel"] == first["model"]
    assert comparison["championTrainingId"] == first["trainingId"]
    assert comparison["championEvaluation"]["perLabel"][1]["ap50"] == 0.60
    assert comparison["rule"] == {
        "metric": "boundingBoxMeanAveragePrecision",
        "minImprovement": 0.005,
        "maxLabelDrop": 0.02,
        "maxLatencyIncreaseMs": 2.0,
    }
    assert second["evaluation"]["testImagesDigest"] == "d1" and second["latencyMs"] == 10.0
    assert "ten 0.600 → 0.500" in second["championReason"]
    note = notifications(deps)[-1]
    assert note["type"] == "MODEL_REJECTED" and note["decidedBy"] == "label-drop"
    assert "ten" in note["reason"]
    ten = next(row for row in note["labels"] if row["label"] == "ten")
    assert (ten["challengerAp50"], ten["championAp50"]) == (0.50, 0.60)
    assert deps.store.get("datasets", "cards")["championModel"] == first["model"]


@pytest.mark.emulators
def test_the_same_challenger_is_promoted_when_the_guard_allows_it(deps, pipeline_env):
    pipeline_env.setenv("MAX_LABEL_AP_DROP", "0.15")
    get_env.cache_clear()
    deps.settings = get_env()
    first = champion_first(deps)

    second = train(deps, figures(0.70, ace=0.95, ten=0.50), figures(0.60, ace=0.80, ten=0.60))

    assert second["exportState"] == "EXPORTED" and second["promoted"] is True
    assert second["comparison"]["decidedBy"] == "promoted"
    assert second["comparison"]["rule"]["maxLabelDrop"] == 0.15
    note = notifications(deps)[-1]
    assert note["type"] == "MODEL_EXPORTED" and note["decidedBy"] == "promoted"
    assert {row["label"] for row in note["labels"]} == {"ace", "ten"}
    dataset = deps.store.get("datasets", "cards")
    assert dataset["championModel"] == second["model"] != first["model"]


@pytest.mark.emulators
def test_a_slower_challenger_is_refused_by_the_latency_rule(deps):
    champion_first(deps)

    second = train(deps, figures(0.70, ace=0.95), figures(0.60, ace=0.80), latency=(13.0, 10.0))

    assert (
        second["comparison"]["decidedBy"] == "latency" and second["comparison"]["championLatencyMs"] == 10.0
    )
    assert "13.0 ms vs 10.0 ms" in second["championReason"]


@pytest.mark.emulators
def test_without_a_comparison_the_stored_value_decides_and_the_reason_says_so(deps):
    champion_first(deps)

    second = train(deps, figures(0.70, ace=0.95))  # the champion was deleted: the backend did not compare

    assert second["promoted"] is True
    assert "not the same images: the backend made no comparison" in second["championReason"]
    assert second["comparison"]["sameImages"] is False and second["comparison"]["championEvaluation"] is None


@pytest.mark.emulators
def test_evaluations_of_different_images_are_not_compared(deps):
    champion_first(deps)

    second = train(deps, figures(0.70, ace=0.95), figures(0.90, "d2", ace=0.99))

    assert second["promoted"] is True  # against the stored 0.60, not the other images' 0.90
    assert "not of the same TEST images" in second["championReason"]
    assert second["comparison"]["sameImages"] is False


@pytest.mark.emulators
def test_a_comparison_with_a_model_that_is_no_longer_champion_is_not_used(deps):
    champion_first(deps)
    deps.backend.datasets["cards"] += 10
    start_training(deps, as_event({"schemaVersion": 1, "dataset": "cards"}))
    (running,) = deps.store.query("trainings", "state", "==", "RUNNING")
    model = deps.backend.succeed(running["operation"])
    # the backend compared it with a model that has lost the title since the training started
    deps.backend.compared[model.name] = Evaluations(
        figures(0.70, ace=0.95), 10.0, figures(0.90), "IOD999", 10.0
    )
    poll_operations(deps)
    export_and_notify(deps, as_event(deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)[-1]))
    second = deps.store.get("trainings", running["trainingId"])

    assert second["promoted"] is True  # against the champion's stored 0.60, not IOD999's 0.90
    assert "compared it with IOD999, no longer the champion" in second["championReason"]
    assert second["comparison"]["sameImages"] is False
