"""Pipeline test fixtures: the functions source on sys.path, settings from a test environment, and Deps with
the real Firestore emulator, a fake AutoML gateway and a recording publisher (unit tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))

from edgetrain_pipeline import deps as deps_module  # noqa: E402
from edgetrain_pipeline.config import get_env  # noqa: E402
from edgetrain_pipeline.firestore_store import FirestoreStore  # noqa: E402

from .fake_automl import FakeAutoMl  # noqa: E402
from .recording_publisher import RecordingPublisher  # noqa: E402

TEST_ENV = {
    "GOOGLE_CLOUD_PROJECT": "edgetrain-test",
    "AUTOML_LOCATION": "us-central1",
    "AUTOML_ENDPOINT": "127.0.0.1:9",  # required by the automl-v1 backend; unit tests use FakeAutoMl instead
    "CSRF_SECRET": "test-secret",
    # the production default: three overlapping poll ticks deadlock in the Firestore emulator (it locks
    # pessimistically) until its lock timeout aborts them; 30 s of retries sometimes ran out on a slow machine
    "RETRY_DEADLINE_S": "60",
    "CREATE_LEASE_S": "300",
    "MIN_NEW_EXAMPLES": "1",
    "RETAIN_MODELS": "1",
    "EXPORT_FORMATS": "tflite",
    "EXPORT_URI_PREFIX": "gs://bucket/model-export/",
}


@pytest.fixture
def pipeline_env(monkeypatch):
    """The test settings; override a variable with monkeypatch.setenv and call get_env.cache_clear()."""
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    get_env.cache_clear()
    yield monkeypatch
    get_env.cache_clear()


@pytest.fixture
def deps(clean_firestore, pipeline_env):
    """Adapters for the unit tests, installed as the process's (so entry points use them too)."""
    settings = get_env()
    fake = FakeAutoMl()
    fake.datasets["cards"] = 100
    built = deps_module.Deps(settings, FirestoreStore(settings), fake, RecordingPublisher())
    deps_module.set_deps(built)
    yield built
    deps_module.set_deps(None)
