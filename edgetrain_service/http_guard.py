"""What a REST request must look like before it is served: a Host this server answers to, no browser Origin
unless allowed, and a JSON Content-Type on writes (the HTTP server, rest_server.py, bounds the body).

Without a token the service trusts anything that reaches its loopback port, so a web page must not be able to
reach it: DNS rebinding arrives with a foreign Host header, a cross-site form or fetch with an Origin header
(and, for the "simple" requests a browser sends without asking, a non-JSON Content-Type).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.wrappers import Request

from .errors import PermissionDenied, UnsupportedMediaType

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class HttpGuard:
    """check_host: refuse Host headers other than loopback names (with the bound port) and `hosts`, which is
    what no-token mode needs; with a token the token is the check. `origins`: browser origins allowed."""

    check_host: bool = True
    hosts: frozenset[str] = frozenset()
    origins: frozenset[str] = field(default_factory=frozenset)

    def check(self, request: Request) -> None:
        if self.check_host:
            port = request.environ.get("SERVER_PORT", "")
            allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES} | set(self.hosts)
            if request.host.lower() not in allowed:
                raise PermissionDenied(
                    f"Host {request.host!r} is not one this server answers to; allowed: "
                    f"{', '.join(sorted(allowed))} (edgetrain serve --allow-host adds one)."
                )
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            raise PermissionDenied(
                f"Requests from the browser origin {origin!r} are refused (edgetrain serve --allow-origin)."
            )
        # A write with no body and no Content-Type (`curl -X POST …:cancel`) has nothing to misread; an empty
        # form still sends its Content-Type, and a browser's fetch sends an Origin header (refused above).
        empty = not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", "")
        bodiless = empty and "Content-Type" not in request.headers
        if request.method in WRITE_METHODS and request.mimetype != "application/json" and not bodiless:
            raise UnsupportedMediaType(
                f"{request.method} needs Content-Type: application/json, not "
                f"{request.headers.get('Content-Type') or 'none'!r}."
            )

    def cors_headers(self, request: Request) -> dict[str, str]:
        """For an allowed browser origin: what lets its page read the answer (and pass a preflight)."""
        origin = request.headers.get("Origin")
        if origin is None or origin not in self.origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Vary": "Origin",
        }
