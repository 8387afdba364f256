"""Pub/Sub push deliveries as the functions receive them, and a relay that sees every answer.

A push is an HTTP POST of `{"message": {"data", "attributes", "messageId", "publishTime"}, "subscription"}`
(wiring.py says how functions-framework turns it into a CloudEvent). The relay sits between the Pub/Sub
emulator and the functions: it forwards each push unchanged and records, per message id, the HTTP status the
function answered (2xx acknowledges; anything else makes Pub/Sub deliver again).
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from edgetrain.localstack.processes import LOCALHOST

PUSH_TIMEOUT_S = 300.0
NO_ANSWER = 0  # recorded as the status when the function could not be reached or did not answer


def push_body(data: bytes, message_id: str, attributes: dict[str, str] | None = None) -> bytes:
    """The body the Pub/Sub emulator POSTs for one message."""
    message = {
        "data": base64.b64encode(data).decode(),
        "attributes": attributes or {},
        "messageId": message_id,
        "publishTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return json.dumps({"message": message, "subscription": "projects/p/subscriptions/faults"}).encode()


def post(url: str, path: str, body: bytes, content_type: str = "application/json") -> int:
    """POST body to url+path as a push would; the HTTP status, or NO_ANSWER."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PUSH_TIMEOUT_S)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return NO_ANSWER
    finally:
        connection.close()


def message_id_of(body: bytes) -> str:
    try:
        return str(json.loads(body)["message"]["messageId"])
    except (ValueError, KeyError, TypeError):
        return ""


class PushRelay:
    """An HTTP server on 127.0.0.1 that forwards POST /<function>/<path> to that function's URL + /<path>."""

    def __init__(self, targets: dict[str, str]):
        self.targets = targets
        self.answers: dict[str, list[int]] = defaultdict(list)  # message id -> statuses, in order
        self._lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                function, _, rest = self.path.lstrip("/").partition("/")
                target = relay.targets.get(function)
                status = post(target, "/" + rest, body) if target else 404
                with relay._lock:
                    relay.answers[message_id_of(body)].append(status)
                self.send_response(status or 502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # the relay's own access log is noise
                pass

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-relay", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self._server.server_address[1]}"

    def start(self) -> PushRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def statuses(self, message_id: str) -> list[int]:
        with self._lock:
            return list(self.answers.get(message_id, ()))
