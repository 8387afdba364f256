"""The Pub/Sub adapter: publish JSON messages to the pipeline's topics (PUBSUB_EMULATOR_HOST honoured)."""

from __future__ import annotations

import json
import threading
from typing import Any

from google.cloud.pubsub_v1 import PublisherClient

from .config import Settings

PUBLISH_TIMEOUT_S = 60.0


class PubSubPublisher:
    def __init__(self, settings: Settings, client: PublisherClient | None = None):
        self._settings = settings
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> PublisherClient:
        """Created on first use, once per process."""
        with self._lock:
            if self._client is None:
                self._client = PublisherClient()
            return self._client

    def topic_path(self, topic: str) -> str:
        return (
            topic if topic.startswith("projects/") else self.client.topic_path(self._settings.project, topic)
        )

    def publish(
        self, topic: str, message: dict[str, Any], timeout_s: float = PUBLISH_TIMEOUT_S, **attributes: str
    ) -> str:
        """Publish and wait up to timeout_s for the server's message id (the client retries transient errors
        itself); TimeoutError after that, when the message may still be sent."""
        data = json.dumps(message, separators=(",", ":"), sort_keys=True).encode("utf-8")
        future = self.client.publish(self.topic_path(topic), data, **attributes)
        return future.result(timeout=timeout_s)
