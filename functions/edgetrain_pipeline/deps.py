"""The adapters the entry points hand to use cases: built lazily, once per process; tests may swap them."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .config import Settings, get_env
from .firestore_store import FirestoreStore
from .pubsub_publisher import PubSubPublisher
from .training_backend import TrainingBackend


@dataclass
class Deps:
    settings: Settings
    store: FirestoreStore
    backend: TrainingBackend  # the AutoML service: AutoML Vision v1 or Vertex AI, as TRAINING_BACKEND says
    publisher: PubSubPublisher


_deps: Deps | None = None
_lock = threading.Lock()


def training_backend(settings: Settings) -> TrainingBackend:
    """The gateway of settings.training_backend (each imports only its own Google client library)."""
    if settings.training_backend == "vertex-ai":
        from .vertex_gateway import VertexGateway

        return VertexGateway(settings)
    from .automl_gateway import AutoMlGateway

    return AutoMlGateway(settings)


def build(settings: Settings) -> Deps:
    return Deps(settings, FirestoreStore(settings), training_backend(settings), PubSubPublisher(settings))


def get_deps() -> Deps:
    global _deps
    with _lock:
        if _deps is None:
            _deps = build(get_env())
        return _deps


def set_deps(deps: Deps | None) -> None:
    """Replace the process's adapters (tests); None rebuilds them from the environment on next use."""
    global _deps
    with _lock:
        _deps = deps
