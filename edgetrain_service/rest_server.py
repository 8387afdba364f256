"""The REST transport's HTTP server: werkzeug's threaded server with a fixed number of request threads.

werkzeug's own threaded server starts a thread per connection, without limit. Here the accept loop waits for
a free slot instead, so connections past the limit wait in the kernel's listen backlog and the server's
threads and memory stay bounded.
"""

from __future__ import annotations

import threading

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

REST_THREADS = 16
SOCKET_TIMEOUT_S = 60.0  # a connection that sends nothing for this long gives its thread back


class _Handler(WSGIRequestHandler):
    timeout = SOCKET_TIMEOUT_S


class BoundedWSGIServer(ThreadedWSGIServer):
    def __init__(self, host: str, port: int, app, threads: int = REST_THREADS):
        super().__init__(host, port, app, handler=_Handler)
        self.threads = threads
        self._slots = threading.BoundedSemaphore(threads)
        self._stopping = threading.Event()

    def process_request(self, request, client_address) -> None:
        while not self._slots.acquire(timeout=0.5):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)  # starts the request's thread
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def shutdown(self) -> None:
        self._stopping.set()
        super().shutdown()
