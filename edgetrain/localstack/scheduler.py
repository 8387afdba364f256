"""The Cloud Scheduler stand-in: publish a tick to the poll topic on a fixed interval, from a thread."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

from google.cloud import pubsub_v1

_LOGGER = logging.getLogger(__name__)


class SchedulerLoop:
    """Publishes `{"scheduledTime": ...}` to `topic` every `interval_s` seconds until stop()."""

    def __init__(self, publisher: pubsub_v1.PublisherClient, topic: str, interval_s: float):
        if interval_s <= 0:
            raise ValueError(f"interval_s: {interval_s} must be positive")
        self.publisher = publisher
        self.topic = topic
        self.interval_s = interval_s
        self.ticks = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> SchedulerLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            body = json.dumps({"scheduledTime": datetime.now(UTC).isoformat()}).encode()
            try:
                self.publisher.publish(self.topic, body, origin="scheduler").result(timeout=30)
                self.ticks += 1
            except Exception as error:  # a missed tick is what Cloud Scheduler does too: the next one polls
                _LOGGER.warning("scheduler: publishing to %s failed: %s", self.topic, error)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=35)
