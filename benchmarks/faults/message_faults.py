"""Scenario: bad Pub/Sub messages on every topic the functions consume.

Figures: crashes (a 5xx answer, or a function process that died), unanswered (a message with no 2xx answer by
the deadline: Pub/Sub would keep delivering it), unrecorded (a message whose function reads its payload but
left no Firestore record with a reason: rejected_messages/{function}:{id}, or a FAILED imports document).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from benchmarks.faults.bad_messages import BadMessage, MessageGenerator
from benchmarks.faults.push import NO_ANSWER, message_id_of, post
from benchmarks.faults.stack import FaultStack, wait_until
from benchmarks.interrupts import map_in_threads

ANSWER_TIMEOUT_S = 300.0
RECORD_TIMEOUT_S = 120.0  # imports on the real dataset are recorded FAILED by a later poll tick


@dataclass
class Delivery:
    message: BadMessage
    message_id: str
    statuses: list[int]


def is_crash(statuses: list[int]) -> bool:
    return any(s >= 500 or s == NO_ANSWER for s in statuses)


def is_answered(statuses: list[int]) -> bool:
    """2xx acknowledges; a 4xx from functions-framework to a body no Pub/Sub push has (a malformed envelope
    POSTed directly) is an answer too: the function never saw it."""
    return any(200 <= s < 300 for s in statuses) or (bool(statuses) and all(400 <= s < 500 for s in statuses))


def run(stack: FaultStack, count: int, seed: int, dataset: str) -> dict[str, Any]:
    functions = list(stack.topics.PUBSUB_TRIGGERS)
    messages = MessageGenerator(seed, functions, dataset, stack.parent).generate(count)
    started = time.monotonic()
    deliveries = _send(stack, messages)
    published = [d for d in deliveries if not d.message.via_push]
    wait_until(
        lambda: all(is_answered(stack.relay.statuses(d.message_id)) for d in published), ANSWER_TIMEOUT_S, 1
    )
    for d in published:
        d.statuses = stack.relay.statuses(d.message_id)
    unrecorded = _unrecorded(stack, deliveries)
    crashed = [d for d in deliveries if is_crash(d.statuses)]
    unanswered = [d for d in deliveries if not is_answered(d.statuses)]
    return {
        "messages": len(deliveries),
        "by_kind": _by_kind(deliveries),
        "crashes": len(crashed),
        "unanswered": len(unanswered),
        "unrecorded": len(unrecorded),
        "refused_by_framework": sum(
            all(400 <= s < 500 for s in d.statuses) and bool(d.statuses) for d in deliveries
        ),
        "functions_died": len(stack.dead_processes()),
        "seconds": round(time.monotonic() - started, 1),
        "examples": {
            "crashed": [_example(d) for d in crashed[:3]],
            "unanswered": [_example(d) for d in unanswered[:3]],
            "unrecorded": [_example(d) | {"imports": _imports(stack, d)} for d in unrecorded[:3]],
        },
    }


def _send(stack: FaultStack, messages: list[BadMessage]) -> list[Delivery]:
    def one(message: BadMessage) -> Delivery:
        if message.via_push:
            status = post(
                stack.function_url(message.function),
                stack.push_path(message.function),
                message.push_body,
                message.content_type,
            )
            return Delivery(message, message_id_of(message.push_body), [status])
        message_id = stack.publish(message.function, message.data, **message.attributes)
        return Delivery(message, message_id, [])

    return map_in_threads(one, messages, workers=8)


def _record(stack: FaultStack, delivery: Delivery) -> str:
    """The reason Firestore holds for this message ('' if none)."""
    function, message_id = delivery.message.function, delivery.message_id
    rejected = stack.doc("rejected_messages", f"{function}:{message_id}".replace("/", "_"))
    if rejected:
        return rejected.get("reason") or ""
    if function == "import_dataset":
        for doc in stack.docs("imports", "eventId", message_id):
            if doc.get("state") == "FAILED":
                return doc.get("error") or ""
    return ""


def _unrecorded(stack: FaultStack, deliveries: list[Delivery]) -> list[Delivery]:
    must = [
        d
        for d in deliveries
        if d.message.reads_payload and d.message_id and any(200 <= s < 300 for s in d.statuses)
    ]
    missing = must
    deadline = time.monotonic() + RECORD_TIMEOUT_S
    while missing and time.monotonic() < deadline:
        missing = [d for d in missing if not _record(stack, d)]
        if missing:
            time.sleep(2)
    return missing


def _imports(stack: FaultStack, delivery: Delivery) -> list[dict[str, Any]]:
    """What the pipeline recorded for an import request (why it is not a record with a reason)."""
    docs = stack.docs("imports", "eventId", delivery.message_id)
    return [{k: str(doc.get(k))[:200] for k in ("state", "error", "operation")} for doc in docs]


def _by_kind(deliveries: list[Delivery]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in deliveries:
        counts[d.message.kind] = counts.get(d.message.kind, 0) + 1
    return dict(sorted(counts.items()))


def _example(d: Delivery) -> dict[str, Any]:
    return {
        "number": d.message.number,
        "kind": d.message.kind,
        "function": d.message.function,
        "statuses": d.statuses[:5],
        "data": (d.message.push_body or d.message.data)[:160].decode(errors="replace"),
    }
