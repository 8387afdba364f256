"""Helpers every use case shares: outcomes, rejecting bad messages, publishing the outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from pydantic import BaseModel

from ..deps import Deps
from ..envelope import PubSubEvent, parse
from ..errors import InvalidMessageException, TransientFailureException
from ..retrying import is_retry_exhausted

_LOGGER = logging.getLogger("edgetrain_pipeline")
M = TypeVar("M", bound=BaseModel)


@dataclass
class Outcome:
    status: str  # e.g. created, duplicate, coalesced, skipped, rejected, exporting, notified, polled
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def reject(deps: Deps, function: str, event: PubSubEvent, reason: str) -> Outcome:
    """Record a message that can never succeed, then acknowledge it (return normally)."""
    _LOGGER.warning("%s: rejected event %s: %s", function, event.event_id, reason)
    deps.store.record_rejected(function, event.event_id, reason, event.excerpt)
    return Outcome("rejected", reason)


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
        deps.publisher.publish(entry["topic"], entry["message"])
        deps.store.delete_outbox(outbox_id)
        published += 1
    return published
