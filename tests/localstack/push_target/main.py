"""CloudEvent functions for the push-wiring tests: each appends what it gets to $EVENTS_FILE (JSON lines)."""

import json
import os

import functions_framework


def _record(cloud_event, outcome: str) -> None:
    with open(os.environ["EVENTS_FILE"], "a") as events:
        attributes = dict(cloud_event.get_attributes())
        line = {"outcome": outcome, "attributes": attributes, "data": cloud_event.data}
        events.write(json.dumps(line) + "\n")


@functions_framework.cloud_event
def record_event(cloud_event):
    _record(cloud_event, "ok")


@functions_framework.cloud_event
def fail_first_delivery(cloud_event):
    """Raises (HTTP 500, so Pub/Sub redelivers) the first time it sees an event id."""
    with open(os.environ["EVENTS_FILE"], "a+") as events:
        events.seek(0)
        seen = any(
            json.loads(line)["attributes"]["id"] == cloud_event["id"] for line in events if line.strip()
        )
    if not seen:
        _record(cloud_event, "failed")
        raise RuntimeError("first delivery fails on purpose")
    _record(cloud_event, "ok")
