"""Scenario: bad gRPC and REST requests to `edgetrain serve`.

Figures: internal (answers with gRPC INTERNAL or UNKNOWN, or HTTP 500), no_answer (timeouts, dropped
connections, UNAVAILABLE), server_restarts (the serve process exited; it is started again and the run goes
on). Every other answer is a refusal the client can act on (INVALID_ARGUMENT, NOT_FOUND, 4xx…).
"""

from __future__ import annotations

import http.client
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import grpc

from benchmarks.faults.bad_requests import BadRequest, RequestGenerator
from benchmarks.faults.stack import FaultStack
from benchmarks.interrupts import map_in_threads

TIMEOUT_S = 60.0
INTERNAL_GRPC = ("INTERNAL", "UNKNOWN", "DATA_LOSS")
NO_ANSWER_GRPC = ("DEADLINE_EXCEEDED", "UNAVAILABLE")


def classify(answer: str) -> str:
    """'internal', 'no_answer' or 'refused'/'ok' for an answer written as 'grpc:CODE' or 'http:STATUS'."""
    transport, _, code = answer.partition(":")
    if transport == "grpc":
        if code in INTERNAL_GRPC:
            return "internal"
        if code in NO_ANSWER_GRPC:
            return "no_answer"
        return "ok" if code == "OK" else "refused"
    if code == "none":
        return "no_answer"
    status = int(code)
    if status == 500:
        return "internal"
    if status >= 500 and status not in (501,):
        return "no_answer"
    return "ok" if status < 400 else "refused"


def tally(requests: list[BadRequest], answers: list[str]) -> dict[str, Any]:
    classes = [classify(a) for a in answers]
    bad = [
        {
            "number": r.number,
            "kind": r.kind,
            "transport": r.transport,
            "method": r.method,
            "path": r.path[:160],
            "answer": a,
        }
        for r, a, c in zip(requests, answers, classes, strict=True)
        if c in ("internal", "no_answer")
    ]
    return {
        "requests": len(requests),
        "internal": classes.count("internal"),
        "no_answer": classes.count("no_answer"),
        "refused": classes.count("refused"),
        "accepted": classes.count("ok"),
        "answers": dict(Counter(answers).most_common(12)),
        "examples": bad[:8],
    }


def run(stack: FaultStack, count: int, seed: int, dataset: str, model: str | None) -> dict[str, Any]:
    requests = RequestGenerator(seed, stack.parent, dataset, model).generate(count)
    pid = stack.service.process.pid
    started = time.monotonic()
    channel = grpc.insecure_channel(
        stack.service.grpc_target, options=[("grpc.max_send_message_length", 64 << 20)]
    )
    restarts = 0
    try:
        answers = map_in_threads(lambda r: send(stack, channel, r), requests, workers=8)
    finally:
        channel.close()
    if stack.service.process.poll() is not None or stack.service.process.pid != pid:
        restarts += 1
        stack.service.start()
        stack.reconnect()
    return {
        **tally(requests, answers),
        "server_restarts": restarts,
        "seconds": round(time.monotonic() - started, 1),
    }


def send(stack: FaultStack, channel: grpc.Channel, request: BadRequest) -> str:
    if request.transport == "grpc":
        call = channel.unary_unary(request.method, request_serializer=None, response_deserializer=None)
        try:
            call(request.body, timeout=TIMEOUT_S)
            return "grpc:OK"
        except grpc.RpcError as error:
            return f"grpc:{error.code().name}"
    url = stack.service.vertex_rest_url if request.transport == "vertex_rest" else stack.service.rest_url
    return f"http:{_http(url, request)}"


def _http(url: str, request: BadRequest) -> str:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
    try:
        if request.declared_length is not None:  # the server must answer 413 without reading the body
            connection.putrequest(request.method, request.path)
            for key, value in {**request.headers, "Content-Length": str(request.declared_length)}.items():
                connection.putheader(key, value)
            connection.endheaders()
            connection.send(request.body)
        else:
            connection.request(
                request.method, request.path, body=request.body or None, headers=request.headers
            )
        response = connection.getresponse()
        response.read()
        return str(response.status)
    except (OSError, http.client.HTTPException):
        return "none"
    finally:
        connection.close()
