"""What every Pub/Sub entry point does around its use case: unwrap the envelope, reject bad ones, log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .deps import Deps, get_deps
from .envelope import PubSubEvent, unwrap
from .errors import InvalidMessageException
from .usecases.common import Outcome, reject

_LOGGER = logging.getLogger("edgetrain_pipeline")


def handle_pubsub(
    function: str, use_case: Callable[[Deps, PubSubEvent], Outcome], cloud_event: Any
) -> Outcome:
    """Run use_case on the event. Returning acknowledges the message; only transient failures raise."""
    deps = get_deps()
    try:
        event = unwrap(cloud_event)
    except InvalidMessageException as exc:
        return reject(deps, function, PubSubEvent(str(cloud_event["id"]), "", {}), str(exc))
    outcome = use_case(deps, event)
    _LOGGER.info("%s %s: %s %s", function, event.event_id, outcome.status, outcome.detail)
    return outcome
