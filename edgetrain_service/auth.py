"""Bearer-token check shared by both transports. Without a token (loopback only) any request is accepted."""

from __future__ import annotations

import hmac
import ipaddress

from .errors import Unauthenticated


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(token: str | None, authorization: str | None) -> None:
    if not token:
        return
    expected = f"Bearer {token}"
    if not authorization or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise Unauthenticated("Request is missing a valid bearer token (Authorization: Bearer TOKEN).")
