"""Build real Pub/Sub CloudEvents (as Eventarc delivers them) and post them to a functions-framework app."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

PUBSUB_EVENT_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"


def pubsub_event(
    payload: Any,
    event_id: str | None = None,
    topic: str = "t",
    raw: bytes | None = None,
    time: str | None = None,
) -> CloudEvent:
    """payload JSON-encoded (or raw bytes as the message data), base64-wrapped as Pub/Sub does."""
    data = raw if raw is not None else json.dumps(payload).encode()
    event_id = event_id or uuid.uuid4().hex
    attributes = {
        "type": PUBSUB_EVENT_TYPE,
        "source": f"//pubsub.googleapis.com/projects/edgetrain-test/topics/{topic}",
        "id": event_id,
    }
    if time is not None:
        attributes["time"] = time
    body = {
        "message": {"data": base64.b64encode(data).decode(), "messageId": event_id, "attributes": {}},
        "subscription": f"projects/edgetrain-test/subscriptions/{topic}-sub",
    }
    return CloudEvent(attributes, body)


def post(client, event: CloudEvent, binary: bool = False):
    headers, body = (to_binary if binary else to_structured)(event)
    return client.post("/", headers=headers, data=body)
