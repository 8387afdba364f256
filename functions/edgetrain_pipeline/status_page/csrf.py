"""CSRF protection for the form: a random nonce in a SameSite=Strict cookie, its HMAC in the form.

A cross-site page can neither read the cookie nor the token, so it cannot post a valid pair; the secret
(CSRF_SECRET) makes tokens valid across function instances.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

COOKIE_NAME = "edgetrain_csrf"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_for(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def is_valid(secret: str, nonce: str | None, token: str | None) -> bool:
    if not nonce or not token:
        return False
    # bytes: compare_digest refuses str with non-ASCII characters (TypeError), which any site can post
    return hmac.compare_digest(token_for(secret, nonce).encode(), token.encode("utf-8", "replace"))
