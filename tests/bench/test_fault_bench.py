"""The fault suite (benchmarks/fault_bench.py) at tiny counts on the real local stack, and proof that it
reports what it is there to find: an INTERNAL answer, a crashed delivery, a figure off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import fault_bench
from benchmarks.faults import message_faults, request_faults
from benchmarks.faults.bad_messages import MessageGenerator
from benchmarks.faults.figures import off_figures

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
STACK_ENV = ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")


@pytest.mark.emulators
def test_one_internal_answer_fails_the_run_and_is_named(monkeypatch, tmp_path):
    """Bad requests and bad messages, a dozen each, against the real stack; the first request's real answer
    is replaced by INTERNAL: the record counts it, names it, and the suite exits 1."""
    real_send = request_faults.send

    def send(stack, channel, request):
        answer = real_send(stack, channel, request)
        return "grpc:INTERNAL" if request.number == 0 else answer

    monkeypatch.setattr(request_faults, "send", send)
    for name in STACK_ENV:  # the local stack points this process at its emulators; undone after the test
        monkeypatch.delenv(name, raising=False)
    results = tmp_path / "faults.jsonl"
    argv = ["--only", "requests,messages", "--messages", "12", "--requests", "12", "--results", str(results)]

    code = fault_bench.main(argv)

    record = json.loads(results.read_text().splitlines()[-1])
    assert code == 1
    assert record["requests"]["requests"] == 12 and record["requests"]["internal"] >= 1
    assert record["requests"]["examples"][0]["number"] == 0
    assert "requests.internal" in " ".join(record["off"])
    assert record["messages"]["messages"] == 12
    assert record["git"]["commit"] and record["machine"]["cores"]
    assert "## faults" in fault_bench.render_markdown([record]) and "FAIL" in fault_bench.render_markdown(
        [record]
    )


def test_answers_are_classified():
    assert request_faults.classify("grpc:INTERNAL") == "internal"
    assert request_faults.classify("grpc:UNKNOWN") == "internal"
    assert request_faults.classify("http:500") == "internal"
    assert request_faults.classify("http:none") == "no_answer"
    assert request_faults.classify("grpc:INVALID_ARGUMENT") == "refused"
    assert request_faults.classify("http:413") == "refused"
    assert message_faults.is_crash([200, 500]) and not message_faults.is_answered([500, 500])
    assert message_faults.is_answered([204]) and not message_faults.is_crash([204])


def test_every_expected_figure_is_checked():
    record = {
        "messages": {"crashes": 0, "unanswered": 1, "unrecorded": 0, "functions_died": 0},
        "duplicates": {"imports_made": 1, "trainings_started": 2, "notifications_sent": 1, "unanswered": 0,
                       "exports_made": 1, "export_formats": 1},
        "kills": {"error": "TimeoutError: no training"},
    }  # fmt: skip
    assert off_figures(record) == [
        "messages.unanswered = 1 (must be 0)",
        "kills: TimeoutError: no training",
        "duplicates.trainings_started = 2 (must be 1)",
    ]


def test_generators_are_reproducible_from_the_seed():
    def messages(seed):
        generator = MessageGenerator(
            seed, ["import_dataset", "start_training"], "ds", "projects/p/locations/l"
        )
        return [(m.kind, m.data, m.push_body) for m in generator.generate(50)]

    assert messages(3) == messages(3) and messages(3) != messages(4)


def test_a_payload_nested_too_deeply_is_an_invalid_message_not_a_crash(monkeypatch):
    """Found by the fault suite: 100,000 "[" made json.loads raise RecursionError, a 500 redelivered."""
    monkeypatch.syspath_prepend(str(FUNCTIONS_DIR))
    from edgetrain_pipeline.envelope import PubSubEvent, parse
    from edgetrain_pipeline.errors import InvalidMessageException
    from edgetrain_pipeline.schemas import ImportRequest

    with pytest.raises(InvalidMessageException, match="nested too deeply"):
        parse(PubSubEvent("1", "[" * 100_000, {}), ImportRequest)


@pytest.mark.parametrize(
    "message",
    [
        {"data": "eyJ9", "messageId": "1", "attributes": "text"},
        {"data": "eyJ9", "messageId": "1", "attributes": ["a", "b"]},
        {"data": {"a": 1}, "messageId": "1"},
        {"data": 12, "messageId": "1"},
    ],
    ids=["attributes-text", "attributes-list", "data-object", "data-number"],
)
def test_a_malformed_push_envelope_is_an_invalid_message_not_a_crash(monkeypatch, message):
    """Found by the fault suite: these push bodies raised TypeError/ValueError in unwrap (a 500)."""
    monkeypatch.syspath_prepend(str(FUNCTIONS_DIR))
    from cloudevents.http import CloudEvent
    from edgetrain_pipeline.envelope import unwrap
    from edgetrain_pipeline.errors import InvalidMessageException

    event = CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//x", "id": "1"},
        {"message": message},
    )
    with pytest.raises(InvalidMessageException, match="envelope"):
        unwrap(event)


def test_a_training_id_that_is_no_firestore_document_id_is_refused(monkeypatch):
    """Found by the fault suite: trainingId "<script>alert(1)</script>" was used as a Firestore path (500)."""
    monkeypatch.syspath_prepend(str(FUNCTIONS_DIR))
    from edgetrain_pipeline.schemas import TrainingFinished
    from pydantic import ValidationError

    for training_id in ("<script>alert(1)</script>", "a/b", "", "x" * 65):
        with pytest.raises(ValidationError):
            TrainingFinished.model_validate(
                {"schemaVersion": 1, "trainingId": training_id, "dataset": "d", "state": "FAILED"}
            )
    assert TrainingFinished.model_validate(
        {"schemaVersion": 1, "trainingId": "tr-0a1b", "dataset": "d", "state": "FAILED"}
    )
