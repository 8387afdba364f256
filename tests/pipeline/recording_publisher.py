"""A PubSubPublisher stand-in for the unit tests: keeps what would have been published, per topic."""

from __future__ import annotations

import threading


class RecordingPublisher:
    def __init__(self):
        self.messages: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def publish(self, topic: str, message: dict, **attributes: str) -> str:
        with self._lock:
            self.messages.append((topic, message))
            return str(len(self.messages))

    def on(self, topic: str) -> list[dict]:
        return [m for t, m in self.messages if t == topic]
