"""The adapters the entry points hand to use cases: built lazily, once per process; tests may swap them."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .automl_gateway import AutoMlGateway
from .config import Settings, get_env
from .firestore_store import FirestoreStore
from .pubsub_publisher import PubSubPublisher


@dataclass
class Deps:
    settings: Settings
    store: FirestoreStore
    automl: AutoMlGateway
    publisher: PubSubPublisher


_deps: Deps | None = None
_lock = threading.Lock()


def build(settings: Settings) -> Deps:
    return Deps(settings, FirestoreStore(settings), AutoMlGateway(settings), PubSubPublisher(settings))


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
