"""Helpers every use case shares: outcomes, rejecting bad messages, publishing the outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from pydantic import BaseModel

from ..deps import Deps
from ..envelope import MAX_RECORDED_CHARS, PubSubEvent, parse
from ..errors import InvalidMessageException, TransientFailureException
from ..retrying import is_retry_exhausted

_LOGGER = logging.getLogger("edgetrain_pipeline")
M = TypeVar("M", bound=BaseModel)


@dataclass
class Outcome:
    status: str  # e.g. created, duplicate, coalesced, skipped, rejected, exporting, notified, polled
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def bounded(text: str, limit: int = MAX_RECORDED_CHARS) -> str:
    """About `limit` characters of `text`: its start and its end (where a reason quoting a huge field usually
    says what is wrong with it), and how much was left out. A reason must not make its record too big for
    Firestore (1 MiB a document), or the message would be retried until it dead-letters."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} …[{len(text) - 2 * half:,} of {len(text):,} characters left out]… {text[-half:]}"


def reject(deps: Deps, function: str, event: PubSubEvent, reason: str) -> Outcome:
    """Record a message that can never succeed, then acknowledge it (return normally)."""
    reason = bounded(reason)
    _LOGGER.warning("%s: rejected event %s: %s", function, bounded(event.event_id, 200), reason)
    deps.store.record_rejected(function, bounded(event.event_id, 200), reason, event.excerpt)
    return Outcome("rejected", reason)


def reused_request_id(request_id: str, earlier: str) -> str:
    """The reason for a request whose requestId an earlier, different request claimed (AIP-155: a requestId
    names one request; acknowledging this one as its duplicate would drop it without a trace)."""
    return f"requestId {request_id} was used before for another request: {earlier}; use a new requestId"


def parse_or_none(event: PubSubEvent, schema: type[M]) -> tuple[M | None, str]:
    try:
        return parse(event, schema), ""
    except InvalidMessageException as exc:
        return None, str(exc)


def transient(function: str, what: str, exc: BaseException) -> TransientFailureException:
    """The exception to raise (so Pub/Sub redelivers) once retries of a transient error ran out."""
    _LOGGER.error("%s: %s failed after retries: %s", function, what, exc)
    return TransientFailureException(f"{what}: {exc}")


def is_permanent_api_error(exc: BaseException) -> bool:
    """An AutoML error that retrying cannot fix (bad argument, missing resource, permission)."""
    return isinstance(exc, gexc.GoogleAPICallError) and not is_retry_exhausted(exc)


def flush_outbox(deps: Deps, outbox_ids: list[str]) -> int:
    """Publish committed outbox messages, deleting each after its publish; leftovers go out on a poll tick."""
    published = 0
    for outbox_id in outbox_ids:
        entry = deps.store.outbox_entry(outbox_id)
        if entry is None:
            continue  # another flusher published it
        if not (isinstance(entry.get("topic"), str) and isinstance(entry.get("message"), dict)):
            _LOGGER.error("outbox/%s holds no topic and message; left for an operator: %r", outbox_id, entry)
            continue
        deps.publisher.publish(entry["topic"], entry["message"])
        deps.store.delete_outbox(outbox_id)
        published += 1
    return published
