"""Firestore out of reach: reads give up at RETRY_DEADLINE_S, and the status page answers 503 in seconds."""

from __future__ import annotations

import time

import pytest
from edgetrain_pipeline import deps as deps_module
from edgetrain_pipeline.config import get_env
from edgetrain_pipeline.firestore_store import FirestoreStore
from edgetrain_pipeline.retrying import is_retry_exhausted
from google.api_core import exceptions as gexc

from edgetrain.localstack.processes import free_port

from .apps import http_client
from .fake_automl import FakeAutoMl
from .recording_publisher import RecordingPublisher


@pytest.fixture
def unreachable_firestore(pipeline_env):
    """Settings whose Firestore is a closed port on this machine (every call: connection refused)."""
    pipeline_env.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    pipeline_env.setenv("RETRY_DEADLINE_S", "3")
    get_env.cache_clear()
    return get_env()


def test_a_read_gives_up_at_the_retry_deadline(unreachable_firestore):
    """The client's own retry (up to 300 s a call) ran inside ours, so RETRY_DEADLINE_S did not hold."""
    store = FirestoreStore(unreachable_firestore)
    started = time.monotonic()
    with pytest.raises(gexc.RetryError):
        store.get("trainings", "tr-1")
    assert time.monotonic() - started < 20


def test_a_transaction_reports_the_outage_not_the_clients_rollback_error(unreachable_firestore):
    """The client's BeginTransaction retries for 60 s of its own, then its rollback raised "The transaction
    has no transaction ID" and hid why: the status page's POST /train answered that as a 400."""
    store = FirestoreStore(unreachable_firestore)
    ref = store.collection("trainings").document("tr-1")
    with pytest.raises(gexc.RetryError, match="failed to connect"):
        store.run_transaction(lambda txn: ref.get(transaction=txn).exists)


def test_the_status_page_answers_503_within_seconds(unreachable_firestore):
    """It waited about four minutes on Firestore's retries, then answered a bare 500."""
    deps_module.set_deps(
        deps_module.Deps(
            unreachable_firestore, FirestoreStore(unreachable_firestore), FakeAutoMl(), RecordingPublisher()
        )
    )
    try:
        client = http_client()
        for path, kind in (
            ("/", "text/plain"),
            ("/api/trainings", "application/json"),
            ("/imports", "text/plain"),
        ):
            started = time.monotonic()
            response = client.get(path)
            assert time.monotonic() - started < 20, path
            assert response.status_code == 503, path
            assert response.headers["Retry-After"] == "30"
            assert response.mimetype == kind
            assert "Temporarily unavailable, try again in a minute" in response.get_data(as_text=True)
    finally:
        deps_module.set_deps(None)


@pytest.mark.emulators
def test_a_query_past_its_deadline_part_way_through_gives_up_like_any_read(deps):
    """A stream that fails part way asks its retry whether to resume; given none, the client raised
    AttributeError, which neither the pipeline's retry nor the status page's 503 recognised (a 500)."""
    trainings = deps.store.collection("trainings")
    for start in range(0, 1_200, 50):  # 60 MB: streaming it takes longer than the deadline below
        batch = deps.store.client.batch()
        for n in range(start, start + 50):
            batch.set(trainings.document(f"tr-{n:04d}"), {"padding": "x" * 50_000})
        batch.commit()

    with pytest.raises(Exception) as raised:
        deps.store.within(0.3).read_all(trainings)

    assert is_retry_exhausted(raised.value), repr(raised.value)
    assert len(deps.store.read_all(trainings)) == 1_200  # with time enough, the same read succeeds
