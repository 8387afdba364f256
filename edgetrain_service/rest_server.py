"""The REST transports' HTTP server: waitress, a production WSGI server, on a thread of its own.

waitress reads each request, headers and body, in one event loop and hands only whole requests to its fixed
pool of threads, so a client that sends slowly (or not at all) holds a connection, never a request thread.
"""

from __future__ import annotations

import socket
import threading

from waitress import wasyncore
from waitress.server import create_server

# A Predict body carries a base64 image: AutoML's 30 MB limit is 40 MB encoded, plus the JSON around it.
MAX_BODY_BYTES = 42 * 1024 * 1024
REST_THREADS = 16
# open connections a port (waitress's default); each may buffer a body of up to MAX_BODY_BYTES
CONNECTION_LIMIT = 100
IDLE_TIMEOUT_S = 60.0  # a connection silent this long is closed, unless a request of it is being served


class RestServer:
    def __init__(self, host: str, port: int, app, name: str, threads: int = REST_THREADS):
        # one address, as the gRPC port's: waitress would bind every address a host name resolves to
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        ip = str(address[0])
        self._map: dict = {}
        try:
            self._server = create_server(
                app,
                map=self._map,
                listen=f"[{ip}]:{port}" if family == socket.AF_INET6 else f"{ip}:{port}",
                threads=threads,
                connection_limit=CONNECTION_LIMIT,
                channel_timeout=IDLE_TIMEOUT_S,
                max_request_body_size=MAX_BODY_BYTES,  # 413 once Content-Length or a chunked body passes it
                asyncore_use_poll=True,  # select() cannot watch descriptors past 1024
                ident="edgetrain",
            )
        except OSError as error:
            raise OSError(f"cannot bind REST to {host}:{port}: {error.strerror or error}") from error
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let requests in flight answer (up to `grace_s`), then close every connection."""
        self._in_loop(lambda: wasyncore.dispatcher.close(self._server))  # the listening socket only
        self._server.task_dispatcher.shutdown(timeout=grace_s)
        self._in_loop(self._close_everything)  # the loop ends with nothing left to watch
        self._thread.join(timeout=grace_s)

    def _close_everything(self) -> None:
        for dispatcher in list(self._map.values()):  # connections and waitress's wake-up pipe
            dispatcher.close()

    def _in_loop(self, thunk) -> None:
        """waitress's socket map belongs to its loop thread: change it there."""
        self._server.trigger.pull_trigger(thunk)
