"""Unwrap a Pub/Sub CloudEvent into (event id, JSON payload) and validate it against a schema."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InvalidMessageException

M = TypeVar("M", bound=BaseModel)
MAX_RECORDED_CHARS = 2_000  # how much of a bad payload is kept in Firestore for diagnosis


@dataclass(frozen=True)
class PubSubEvent:
    event_id: str
    text: str  # the decoded message data ("" when there was none or it was not UTF-8)
    attributes: dict[str, str]
    published_at: datetime | None = None  # the CloudEvent's "time": when Pub/Sub accepted the message

    @property
    def excerpt(self) -> str:
        return self.text[:MAX_RECORDED_CHARS]


def unwrap(cloud_event: Any) -> PubSubEvent:
    """The message inside a google.cloud.pubsub.topic.v1.messagePublished CloudEvent.

    Raises InvalidMessageException (after which the caller records and acknowledges) when the envelope
    is not a Pub/Sub push body or its data is not base64 UTF-8.
    """
    event_id = str(cloud_event["id"])
    data = cloud_event.data
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise InvalidMessageException("envelope: CloudEvent data has no Pub/Sub 'message' object")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise InvalidMessageException("envelope: message attributes are not a map of strings")
    if not isinstance(message.get("data") or "", str):
        raise InvalidMessageException("envelope: message data is not a base64 string")
    try:
        raw = base64.b64decode(message.get("data") or "", validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidMessageException(f"envelope: message data is not base64-encoded UTF-8 ({exc})") from None
    return PubSubEvent(
        event_id=event_id, text=text, attributes=dict(attributes), published_at=_time(cloud_event)
    )


def _time(cloud_event: Any) -> datetime | None:
    try:
        value = cloud_event["time"]
    except KeyError:
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # CloudEvents' times are UTC


def parse(event: PubSubEvent, schema: type[M]) -> M:
    """The event's JSON payload as `schema`; InvalidMessageException names what is wrong."""
    try:
        payload = json.loads(event.text)
    except json.JSONDecodeError as exc:
        raise InvalidMessageException(f"payload: not JSON ({exc.msg} at position {exc.pos})") from None
    except RecursionError:  # e.g. 100,000 "[": the parser gives up; retrying would fail the same way
        raise InvalidMessageException("payload: JSON nested too deeply to parse") from None
    if not isinstance(payload, dict):
        raise InvalidMessageException(f"payload: expected a JSON object, got {type(payload).__name__}")
    try:  # a \ud800 escape is valid JSON but no character: Firestore can store no string that holds it
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidMessageException(
            f"payload: a string holds a lone surrogate ({exc.object[exc.start : exc.end]!a}), not a character"
        ) from None
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        raise InvalidMessageException(f"{schema.__name__}: {validation_reasons(exc)}") from None


def validation_reasons(exc: ValidationError, prefix: str = "") -> str:
    """'field: reason; ...' for each of a pydantic error's failures, worded for a person; each field name
    after `prefix` (e.g. "datasets/cards.policy.")."""
    reasons = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "(message)"
        reasons.append(f"{prefix}{field}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(reasons)
