"""Shared fixtures: the real Pub/Sub and Firestore emulators, started once per test session.

Requesting `pubsub_emulator` or `firestore_emulator` starts that emulator (about 1-8 s) and points the test
process at it through PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST, with GOOGLE_CLOUD_PROJECT set to
TEST_PROJECT. Both are stopped, Java children included, when the session ends. `clean_emulators` (function
scope) gives a test an empty Firestore database and no topics or subscriptions.

`cards_training` is one real training (tests/trained.py) that the tests needing *a* trained model share.

`make test` runs the suite on two pytest-xdist workers (`--dist loadgroup`). Each worker builds the session
fixtures it uses, so `pytest_collection_modifyitems` below keeps every module whole on one worker (its module
fixtures are built once) and puts all modules using one costly session fixture on the same worker.
"""

from __future__ import annotations

import pytest

from edgetrain.localstack import emulators

TEST_PROJECT = "edgetrain-test"


def _costly_session_group(item: pytest.Item) -> str | None:
    """The session fixture taking a minute or more (a training, a trained service) that `item` uses, if any.
    The emulators start in seconds and are built on each worker that needs them."""
    used = getattr(item, "fixturenames", ())
    if "cards_training" in used:
        return "cards_training"
    if "service" in used:  # tests/service and tests/vertex each define their own
        return f"{item.path.parent.name}-service"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    groups: dict[str, str] = {}  # module node id -> its group, if a test of it uses a costly fixture
    for item in items:
        group = _costly_session_group(item)
        if group:
            groups.setdefault(_module(item), group)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups.get(_module(item), _module(item))))


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.fixture(scope="session")
def _emulator_env():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GOOGLE_CLOUD_PROJECT", TEST_PROJECT)
        yield patch


@pytest.fixture(scope="session")
def pubsub_emulator(_emulator_env, tmp_path_factory):
    """The Pub/Sub emulator (an `emulators.Emulator`); PUBSUB_EMULATOR_HOST points at it."""
    emulator = emulators.start_pubsub(tmp_path_factory.mktemp("pubsub-emulator"))
    _emulator_env.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def firestore_emulator(_emulator_env, tmp_path_factory):
    """The Firestore emulator (an `emulators.Emulator`); FIRESTORE_EMULATOR_HOST points at it."""
    emulator = emulators.start_firestore(tmp_path_factory.mktemp("firestore-emulator"))
    _emulator_env.setenv("FIRESTORE_EMULATOR_HOST", emulator.host)
    yield emulator
    emulator.stop()


@pytest.fixture
def clean_firestore(firestore_emulator):
    """An empty Firestore database for TEST_PROJECT at the start of the test."""
    emulators.reset_firestore(firestore_emulator.host, TEST_PROJECT)
    yield firestore_emulator


@pytest.fixture
def clean_emulators(pubsub_emulator, firestore_emulator):
    """Both emulators, emptied for TEST_PROJECT: no documents, no topics, no subscriptions."""
    emulators.reset_firestore(firestore_emulator.host, TEST_PROJECT)
    emulators.reset_pubsub(TEST_PROJECT)
    yield pubsub_emulator, firestore_emulator


@pytest.fixture(scope="session")
def cards_training(tmp_path_factory):
    """A `tests.trained.Trained`: trained on first use (about a minute), read-only for its users."""
    from tests.trained import train_cards  # TensorFlow is imported only by sessions that train

    return train_cards(tmp_path_factory.mktemp("run") / "out")
