"""Firestore's rules for document IDs, checked wherever a message or a URL names a document: Firestore answers
a bad ID with INVALID_ARGUMENT, which would otherwise reach the caller as a 500 (or a redelivered message)."""

from __future__ import annotations

import re

_RESERVED = re.compile(r"__.*__", re.DOTALL)
MAX_BYTES = 1500


def document_id_problem(text: str) -> str | None:
    """Why `text` cannot be a Firestore document ID, or None when it can."""
    if not text:
        return "is empty"
    if "/" in text:
        return "contains '/'"
    if text in (".", ".."):
        return f"is {text!r}"
    if _RESERVED.fullmatch(text):
        return "has the form __ID__, which Firestore reserves"
    if len(text.encode("utf-8")) > MAX_BYTES:
        return f"is over {MAX_BYTES} bytes"
    return None
