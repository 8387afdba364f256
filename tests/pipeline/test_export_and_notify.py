"""export_and_notify: failure notifications, champion/challenger promotion, exports, retention."""

from __future__ import annotations

import json

import pytest
from edgetrain_pipeline import topics
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.envelope import PubSubEvent
from edgetrain_pipeline.usecases.exports import export_and_notify
from edgetrain_pipeline.usecases.poll_operations import poll_operations
from edgetrain_pipeline.usecases.start_training import start_training

_counter = iter(range(10**6))


def as_event(payload: dict) -> PubSubEvent:
    return PubSubEvent(event_id=f"evt-{next(_counter)}", text=json.dumps(payload), attributes={})


def train(deps, end: str = "succeed", **kwargs) -> dict:
    """Run one training of dataset cards to its end; the training-finished message."""
    deps.backend.datasets["cards"] += 10
    start_training(deps, as_event({"schemaVersion": 1, "dataset": "cards"}))
    (running,) = deps.store.query("trainings", "state", "==", "RUNNING")
    getattr(deps.backend, end)(running["operation"], **kwargs)
    before = len(deps.publisher.on(topics.TOPIC_TRAINING_FINISHED))
    poll_operations(deps)
    return deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)[before]


def finish_exports(deps) -> None:
    for training in deps.store.query("trainings", "exportState", "==", "EXPORTING"):
        for export in training["exports"].values():
            deps.backend.succeed(export["operation"])
    poll_operations(deps)


def notifications(deps) -> list[dict]:
    return deps.publisher.on(topics.TOPIC_NOTIFICATIONS)


@pytest.mark.emulators
@pytest.mark.parametrize(("end", "kind"), [("fail", "TRAINING_FAILED"), ("cancel", "TRAINING_CANCELLED")])
def test_failed_or_cancelled_training_is_notified_once(deps, end, kind):
    finished = train(deps, end)

    export_and_notify(deps, as_event(finished))
    export_and_notify(deps, as_event(finished))  # redelivered

    (note,) = notifications(deps)
    assert note["type"] == kind and note["trainingId"] == finished["trainingId"]
    assert note["reason"] and note["promoted"] is False and "exportLocation" not in note
    assert deps.backend.count("export_model") == 0


@pytest.mark.emulators
def test_challenger_is_promoted_only_when_its_map_beats_the_champion(deps):
    first = train(deps, map_value=0.50)
    export_and_notify(deps, as_event(first))
    finish_exports(deps)
    worse = train(deps, map_value=0.45)
    export_and_notify(deps, as_event(worse))
    better = train(deps, map_value=0.70)
    export_and_notify(deps, as_event(better))
    finish_exports(deps)

    kinds = [(n["trainingId"], n["type"], n["promoted"]) for n in notifications(deps)]
    assert kinds == [
        (first["trainingId"], "MODEL_EXPORTED", True),
        (worse["trainingId"], "MODEL_REJECTED", False),
        (better["trainingId"], "MODEL_EXPORTED", True),
    ]
    assert "does not beat" in notifications(deps)[1]["reason"]
    dataset = deps.store.get("datasets", "cards")
    assert dataset["championModel"] == better["model"] and dataset["championValue"] == pytest.approx(0.70)
    assert [c[1] for c in deps.backend.calls if c[0] == "export_model"] == [first["model"], better["model"]]


@pytest.mark.emulators
def test_minimum_improvement_is_configurable(deps, pipeline_env):
    pipeline_env.setenv("CHAMPION_MIN_IMPROVEMENT", "0.05")
    get_env.cache_clear()
    deps.settings = get_env()
    export_and_notify(deps, as_event(train(deps, map_value=0.50)))
    export_and_notify(deps, as_event(train(deps, map_value=0.53)))

    assert [n["type"] for n in notifications(deps)] == ["MODEL_REJECTED"]
    assert deps.store.get("datasets", "cards")["championValue"] == pytest.approx(0.50)


@pytest.mark.emulators
def test_extra_export_formats_are_exported_and_all_locations_notified(deps, pipeline_env):
    pipeline_env.setenv("EXPORT_FORMATS", "tflite,tf_saved_model")
    get_env.cache_clear()
    deps.settings = get_env()

    export_and_notify(deps, as_event(train(deps)))
    assert notifications(deps) == []
    finish_exports(deps)

    (note,) = notifications(deps)
    assert set(note["exportLocations"]) == {"tflite", "tf_saved_model"}
    assert note["exportLocation"] == note["exportLocations"]["tflite"]


@pytest.mark.emulators
def test_duplicate_training_finished_event_exports_once(deps):
    finished = train(deps)

    outcomes = [export_and_notify(deps, as_event(finished)).status for _ in range(3)]

    assert outcomes == ["exporting", "duplicate", "duplicate"]
    assert deps.backend.count("export_model") == 1


@pytest.mark.emulators
def test_old_non_champion_models_beyond_retention_are_deleted(deps):
    # RETAIN_MODELS=1 in the test environment: the champion plus the newest rejected model stay.
    champion = train(deps, map_value=0.9)
    export_and_notify(deps, as_event(champion))
    rejected = [train(deps, map_value=0.1 + i / 100) for i in range(3)]
    for finished in rejected:
        export_and_notify(deps, as_event(finished))

    deleted = [c[1] for c in deps.backend.calls if c[0] == "delete_model"]
    assert deleted == [rejected[0]["model"], rejected[1]["model"]]
    assert champion["model"] in deps.backend.models and rejected[2]["model"] in deps.backend.models


@pytest.mark.emulators
def test_finished_event_for_unknown_training_is_recorded(deps):
    event = as_event(
        {"schemaVersion": 1, "trainingId": "tr-missing", "dataset": "cards", "state": "SUCCEEDED"}
    )

    assert export_and_notify(deps, event).status == "rejected"
    assert (
        "not in Firestore"
        in deps.store.get("rejected_messages", f"export_and_notify:{event.event_id}")["reason"]
    )


@pytest.mark.emulators
def test_failed_extra_format_still_exports_tflite_and_names_the_failure(deps, pipeline_env):
    pipeline_env.setenv("EXPORT_FORMATS", "tflite,tf_js")
    get_env.cache_clear()
    deps.settings = get_env()
    export_and_notify(deps, as_event(train(deps)))
    (training,) = deps.store.query("trainings", "exportState", "==", "EXPORTING")
    deps.backend.succeed(training["exports"]["tflite"]["operation"])
    deps.backend.fail(training["exports"]["tf_js"]["operation"], "tf_js converter missing")

    poll_operations(deps)

    (note,) = notifications(deps)
    assert note["type"] == "MODEL_EXPORTED" and "tf_js: tf_js converter missing" in note["reason"]
    assert deps.store.get("trainings", training["trainingId"])["exportState"] == "EXPORTED"


@pytest.mark.emulators
def test_failed_tflite_export_is_notified_as_a_failure(deps):
    export_and_notify(deps, as_event(train(deps)))
    (training,) = deps.store.query("trainings", "exportState", "==", "EXPORTING")
    deps.backend.fail(training["exports"]["tflite"]["operation"], "converter crashed")

    poll_operations(deps)

    (note,) = notifications(deps)
    assert note["type"] == "TRAINING_FAILED" and "converter crashed" in note["reason"]
    assert deps.store.get("trainings", training["trainingId"])["exportState"] == "EXPORT_FAILED"
