"""Each Pub/Sub entry point of functions/main.py, called in-process with real CloudEvents."""

from __future__ import annotations

import pytest
from edgetrain_pipeline import topics
from google.api_core import exceptions as gexc

from .apps import cloudevent_client
from .events import post, pubsub_event

REQUEST = {"schemaVersion": 1, "dataset": "cards", "requestId": "req-1"}


@pytest.mark.emulators
@pytest.mark.parametrize("binary", [False, True], ids=["structured", "binary"])
def test_start_training_starts_one_labelled_training(deps, binary):
    response = post(cloudevent_client("start_training"), pubsub_event(REQUEST), binary=binary)

    assert response.status_code == 200
    (call,) = [c for c in deps.backend.calls if c[0] == "create_model"]
    _, dataset, _display, model_type, budget, labels = call
    assert dataset.endswith("/datasets/cards") and model_type == "mobile-versatile-1" and budget == 24_000
    (training,) = deps.store.query("trainings", "state", "==", "RUNNING")
    assert labels == {"edgetrain-training": training["trainingId"]}
    assert training["operation"] and training["requestId"] == "req-1"


@pytest.mark.emulators
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"schemaVersion": 1}', "dataset"),
        (b'{"schemaVersion": 2, "dataset": "cards"}', "schemaVersion"),
        (b'{"schemaVersion": 1, "dataset": "cards", "colour": "red"}', "colour"),
        (b'{"schemaVersion": 1, "dataset": "cards", "modelType": "cloud-high-accuracy-1"}', "modelType"),
        (
            b'{"schemaVersion": 1, "dataset": "cards", "trainBudgetMilliNodeHours": 500}',
            "trainBudgetMilliNodeHours",
        ),
        (b'{"schemaVersion": 1, "dataset": "cards", "displayName": "9 lives"}', "displayName"),
        (b"\xff\xfe", "UTF-8"),
        # found by probing: JSON's types are taken as they are, and a pattern holds for the whole value
        (b'{"schemaVersion": true, "dataset": "cards"}', "schemaVersion: must be the integer 1"),
        (b'{"schemaVersion": 1.0, "dataset": "cards"}', "schemaVersion: must be the integer 1"),
        (b'{"schemaVersion": 1, "dataset": "cards", "trainBudgetMilliNodeHours": "5000"}', "valid integer"),
        (b'{"schemaVersion": 1, "dataset": "cards", "trainBudgetMilliNodeHours": 5000.0}', "valid integer"),
        (b'{"schemaVersion": 1, "dataset": "cards", "displayName": "abc\\n"}', "displayName"),
        (b'{"schemaVersion": 1, "dataset": "cards", "requestId": "r1\\n"}', "requestId"),
        (b'{"schemaVersion": 1, "dataset": "cards\\n"}', "dataset: must be a dataset ID"),
        (b'{"schemaVersion": 1, "dataset": "cards", "displayName": "a\\ud800"}', "lone surrogate"),
    ],
)
def test_malformed_training_requests_are_recorded_and_acknowledged(deps, raw, reason):
    event = pubsub_event(None, raw=raw)

    response = post(cloudevent_client("start_training"), event)

    assert response.status_code == 200
    recorded = deps.store.get("rejected_messages", f"start_training:{event['id']}")
    assert recorded is not None and reason in recorded["reason"]
    assert deps.backend.count("create_model") == 0


@pytest.mark.emulators
def test_envelope_without_pubsub_message_is_recorded_and_acknowledged(deps):
    event = pubsub_event({})
    event.data = {"unexpected": True}

    response = post(cloudevent_client("export_and_notify"), event)

    assert response.status_code == 200
    assert (
        "no Pub/Sub 'message'"
        in deps.store.get("rejected_messages", f"export_and_notify:{event['id']}")["reason"]
    )


@pytest.mark.emulators
def test_unknown_dataset_is_rejected_without_training(deps):
    event = pubsub_event({"schemaVersion": 1, "dataset": "nope"})

    assert post(cloudevent_client("start_training"), event).status_code == 200

    assert "does not exist" in deps.store.get("rejected_messages", f"start_training:{event['id']}")["reason"]
    assert deps.store.query("trainings", "datasetId", "==", "nope") == []


@pytest.mark.emulators
def test_transient_create_model_failure_raises_for_redelivery_and_frees_the_claim(deps):
    deps.backend.fail_next["create_model"] = gexc.RetryError(
        "deadline exceeded", gexc.ServiceUnavailable("down")
    )

    response = post(cloudevent_client("start_training"), pubsub_event(REQUEST))

    assert response.status_code == 500  # Pub/Sub will redeliver
    (training,) = deps.store.query("trainings", "state", "==", "CREATING")
    assert "CreateModel" in training["lastError"] and training["operation"] is None


@pytest.mark.emulators
def test_rejected_create_model_fails_the_training_and_announces_it(deps):
    deps.backend.fail_next["create_model"] = gexc.InvalidArgument("dataset has no bounding boxes")

    assert post(cloudevent_client("start_training"), pubsub_event(REQUEST)).status_code == 200

    (training,) = deps.store.query("trainings", "state", "==", "FAILED")
    assert "no bounding boxes" in training["error"]
    (finished,) = deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)
    assert finished["state"] == "FAILED" and finished["trainingId"] == training["trainingId"]
    assert deps.store.get("datasets", "cards")["activeTraining"] is None


@pytest.mark.emulators
def test_import_dataset_imports_once_and_the_poller_announces_the_import(deps):
    event = pubsub_event({"schemaVersion": 1, "dataset": "cards", "inputUris": ["gs://b/new.csv"]})
    client = cloudevent_client("import_dataset")

    assert post(client, event).status_code == 200
    assert post(client, event).status_code == 200  # redelivery

    assert deps.backend.count("import_data") == 1
    (imported,) = deps.store.query("imports", "state", "==", "RUNNING")
    deps.backend.succeed(imported["operation"])
    assert post(cloudevent_client("poll_operations"), pubsub_event({})).status_code == 200
    (request,) = deps.publisher.on(topics.TOPIC_DATASET_IMPORTED)
    assert request == {
        "schemaVersion": 1,
        "dataset": imported["dataset"],
        "requestId": f"import-{imported['importId']}",
        "source": "import",
    }
    assert deps.store.get("imports", imported["importId"])["state"] == "SUCCEEDED"


@pytest.mark.emulators
def test_import_request_for_a_dataset_id_firestore_reserves_is_recorded(deps):
    """Found by probing: "__x__" passed the schema, then Firestore refused it as a document ID (a 500)."""
    event = pubsub_event({"schemaVersion": 1, "dataset": "__x__", "inputUris": ["gs://b/a.csv"]})

    assert post(cloudevent_client("import_dataset"), event).status_code == 200

    reason = deps.store.get("rejected_messages", f"import_dataset:{event['id']}")["reason"]
    assert "the dataset ID has the form __ID__, which Firestore reserves" in reason
    assert deps.backend.count("import_data") == 0


@pytest.mark.emulators
def test_import_request_without_csv_is_recorded(deps):
    event = pubsub_event({"schemaVersion": 1, "dataset": "cards", "inputUris": ["gs://b/images.zip"]})

    assert post(cloudevent_client("import_dataset"), event).status_code == 200

    assert "not a CSV" in deps.store.get("rejected_messages", f"import_dataset:{event['id']}")["reason"]
    assert deps.backend.count("import_data") == 0


@pytest.mark.emulators
@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        # found by probing: an escaped lone surrogate passed the schema, then failed every Firestore write
        # (the message was redelivered until it dead-lettered, unrecorded)
        ("gs://b/\ud800.csv", "lone surrogate"),
        ("http://example.com/x.csv", "is not a gs://BUCKET/OBJECT URI"),
        ("images/x.csv", "is not a gs://BUCKET/OBJECT URI"),
        ("gs:///x.csv", "is not a gs://BUCKET/OBJECT URI"),
        ("gs://b/a\u0000.csv", "control character"),
        ("gs://b/" + "x" * 1100 + ".csv", "over 1,024 bytes"),
    ],
    ids=["surrogate", "http", "relative", "no bucket", "NUL", "long"],
)
def test_import_request_names_gcs_objects(deps, uri, reason):
    event = pubsub_event({"schemaVersion": 1, "dataset": "cards", "inputUris": [uri]})

    assert post(cloudevent_client("import_dataset"), event).status_code == 200

    assert reason in deps.store.get("rejected_messages", f"import_dataset:{event['id']}")["reason"]
    assert deps.backend.count("import_data") == 0


@pytest.mark.emulators
@pytest.mark.parametrize(
    ("event_id", "other_id"), [("é" * 1000, "é" * 1001), ("a/b", "a_b")], ids=["long", "slash"]
)
def test_every_event_id_claims_its_own_document(deps, event_id, other_id):
    """Found by probing: event IDs were cut at 1,400 characters (2,000 bytes of "é", which Firestore refuses
    as a key: a 500 on every delivery), and "a/b" shared the claim of "a_b" (taken for its duplicate)."""
    client = cloudevent_client("start_training")
    request = {"schemaVersion": 1, "dataset": "cards", "source": "manual"}
    for each in (other_id, event_id):
        assert post(client, pubsub_event(request, event_id=each)).status_code == 200
        (training,) = deps.store.query("trainings", "state", "==", "RUNNING")
        deps.backend.fail(training["operation"])
        assert post(cloudevent_client("poll_operations"), pubsub_event({})).status_code == 200

    assert post(client, pubsub_event(request, event_id=event_id)).status_code == 200  # a redelivery
    assert deps.backend.count("create_model") == 2


@pytest.mark.emulators
@pytest.mark.parametrize("time", ["2026-01-01T00:00:00", "2026-01-01"])
def test_a_scheduler_tick_without_a_time_zone_is_read_as_utc(deps, time):
    """Found by probing: a naive CloudEvent time made every such tick a 500 (naive minus aware datetime)."""
    response = post(cloudevent_client("poll_operations"), pubsub_event({}, time=time))

    assert response.status_code == 200


@pytest.mark.emulators
def test_full_chain_with_entry_points_ends_in_model_exported(deps):
    post(cloudevent_client("start_training"), pubsub_event(REQUEST))
    (training,) = deps.store.query("trainings", "state", "==", "RUNNING")
    deps.backend.succeed(training["operation"], map_value=0.61, cost=1_500)
    poll = cloudevent_client("poll_operations")
    post(poll, pubsub_event({}))
    (finished,) = deps.publisher.on(topics.TOPIC_TRAINING_FINISHED)

    assert post(cloudevent_client("export_and_notify"), pubsub_event(finished)).status_code == 200
    export_op = deps.store.get("trainings", training["trainingId"])["exports"]["tflite"]["operation"]
    assert deps.publisher.on(topics.TOPIC_NOTIFICATIONS) == []  # not before the export is done
    deps.backend.succeed(export_op)
    post(poll, pubsub_event({}))

    (note,) = deps.publisher.on(topics.TOPIC_NOTIFICATIONS)
    assert note["type"] == "MODEL_EXPORTED" and note["promoted"] is True
    assert note["exportLocation"].startswith("gs://bucket/model-export/cards/")
    assert note["metrics"]["boundingBoxMeanAveragePrecision"] == pytest.approx(0.61)
    assert note["trainCostMilliNodeHours"] == 1_500 and note["stopReason"] == "MODEL_CONVERGED"
    assert note["modelType"] == "mobile-versatile-1" and note["model"] == finished["model"]


@pytest.mark.emulators
def test_stale_scheduler_tick_is_acknowledged_without_work(deps):
    post(cloudevent_client("start_training"), pubsub_event(REQUEST))
    (training,) = deps.store.query("trainings", "state", "==", "RUNNING")
    deps.backend.progress(training["operation"], 70)
    poll = cloudevent_client("poll_operations")

    stale = post(poll, pubsub_event({}, time="2026-01-01T00:00:00Z"))

    assert stale.status_code == 200
    assert deps.store.get("trainings", training["trainingId"])["progressPercent"] == 0
    assert post(poll, pubsub_event({})).status_code == 200
    assert deps.store.get("trainings", training["trainingId"])["progressPercent"] == 70


@pytest.mark.emulators
def test_get_dataset_exhausting_its_retries_raises_for_redelivery_without_a_claim(deps):
    deps.backend.fail_next["get_dataset"] = gexc.RetryError("deadline", gexc.ServiceUnavailable("down"))
    event = pubsub_event(REQUEST)
    client = cloudevent_client("start_training")

    assert post(client, event).status_code == 500
    assert deps.store.query("trainings", "datasetId", "==", "cards") == []
    assert post(client, event).status_code == 200  # the redelivery succeeds
    assert deps.backend.count("create_model") == 1


@pytest.mark.emulators
def test_transient_import_failure_is_redelivered_and_retried_by_the_poller(deps):
    deps.backend.fail_next["import_data"] = gexc.RetryError("deadline", gexc.ServiceUnavailable("down"))
    event = pubsub_event({"schemaVersion": 1, "dataset": "cards", "inputUris": ["gs://b/new.csv"]})
    client = cloudevent_client("import_dataset")

    assert post(client, event).status_code == 500
    assert post(client, event).status_code == 200  # the redelivery: claimed already, the poller takes it on
    (pending,) = deps.store.query("imports", "state", "==", "CREATING")
    assert "ImportData" in pending["lastError"]
    assert post(cloudevent_client("poll_operations"), pubsub_event({})).status_code == 200

    assert deps.backend.count("import_data") == 2
    assert deps.store.get("imports", pending["importId"])["state"] == "RUNNING"


@pytest.mark.emulators
def test_a_huge_bad_field_is_recorded_as_a_bounded_excerpt(deps):
    """The reason quotes the bad URI; 1 MiB of it must not make the Firestore record fail (and the message be
    retried until it dead-letters)."""
    huge = "gs://bucket/" + "x" * (1 << 20)
    event = pubsub_event({"schemaVersion": 1, "dataset": "cards", "inputUris": [huge]})

    response = post(cloudevent_client("import_dataset"), event)

    assert response.status_code == 200
    recorded = deps.store.get("rejected_messages", f"import_dataset:{event['id']}")
    assert "not a CSV" in recorded["reason"] and "characters left out" in recorded["reason"]
    assert len(recorded["reason"]) < 3_000 and len(recorded["payload"]) <= 2_000
    assert deps.backend.count("import_data") == 0


@pytest.mark.emulators
@pytest.mark.parametrize(
    ("function", "first", "second"),
    [
        ("start_training", {"dataset": "cards"}, {"dataset": "dogs"}),
        (
            "import_dataset",
            {"dataset": "cards", "inputUris": ["gs://b/a.csv"]},
            {"dataset": "dogs", "inputUris": ["gs://b/a.csv"]},
        ),
        (
            "import_dataset",
            {"dataset": "cards", "inputUris": ["gs://b/a.csv"]},
            {"dataset": "cards", "inputUris": ["gs://b/b.csv"]},
        ),
    ],
    ids=["training, other dataset", "import, other dataset", "import, other files"],
)
def test_a_request_id_used_again_for_another_request_is_a_recorded_rejection(deps, function, first, second):
    """Found by probing: the second request was acknowledged as a duplicate of the first, without a trace."""
    client = cloudevent_client(function)
    assert post(client, pubsub_event({"schemaVersion": 1, "requestId": "r-7"} | first)).status_code == 200
    again = pubsub_event({"schemaVersion": 1, "requestId": "r-7"} | second)

    assert post(client, again).status_code == 200
    assert post(client, pubsub_event({"schemaVersion": 1, "requestId": "r-7"} | first)).status_code == 200

    reason = deps.store.get("rejected_messages", f"{function}:{again['id']}")["reason"]
    assert reason.startswith("requestId r-7 was used before for another request:")
    assert deps.backend.count("create_model") + deps.backend.count("import_data") == 1


@pytest.mark.emulators
@pytest.mark.parametrize("uri", ["/data/cells/annotations.csv", "file:///data/cells/annotations.csv"])
def test_a_local_file_is_an_import_file_for_a_self_hosted_service(deps, uri):
    """The local stack imports its CSV by absolute path: the service reads it inside the folders it may."""
    event = pubsub_event({"schemaVersion": 1, "dataset": "cards", "inputUris": [uri]})

    assert post(cloudevent_client("import_dataset"), event).status_code == 200

    assert deps.store.get("rejected_messages", f"import_dataset:{event['id']}") is None
    assert deps.backend.count("import_data") == 1
