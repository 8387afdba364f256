"""Shared helpers for stored resources: load-or-NOT_FOUND, paging, update masks."""

from __future__ import annotations

from google.protobuf.message import Message

from .errors import NotFound, invalid_field
from .store import Store

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_SQLITE_INTEGER = 2**63 - 1


def load(store: Store, name: str, kind: str, cls: type[Message], label: str) -> Message:
    blob = store.get_resource(name, kind)
    if blob is None:
        raise NotFound(f"{label} {name} not found.")
    return cls.FromString(blob)


def parse_page_token(token: str) -> int:
    """A page token this service returned (a row's sequence number, an SQLite integer); "" is page one."""
    if not token:
        return 0
    if not (token.isascii() and token.isdigit()) or int(token) > MAX_SQLITE_INTEGER:
        raise invalid_field("page_token", f"{token[:64]!r} is not a token this service returned")
    return int(token)


def page(
    store: Store,
    kind: str,
    parent: str,
    cls: type[Message],
    page_size: int,
    page_token: str,
    keep=lambda row, message: True,
) -> tuple[list[Message], str]:
    """One page of resources in creation order; `keep(row, message)` filters. Returns (items, next token)."""
    size = page_size or DEFAULT_PAGE_SIZE
    if size < 0 or size > MAX_PAGE_SIZE:
        raise invalid_field("page_size", f"{size} must be between 1 and {MAX_PAGE_SIZE}")
    after = parse_page_token(page_token)
    items: list[Message] = []
    while True:
        rows = store.list_resources(kind, parent, after, 256)
        for row in rows:
            message = cls.FromString(row["proto"])
            if keep(row, message):
                if len(items) == size:
                    return items, str(after)
                items.append(message)
            after = row["seq"]
        if len(rows) < 256:
            return items, ""


def mask_paths(update_mask, allowed: set[str], default: str) -> list[str]:
    paths = list(update_mask.paths) or [default]
    for path in paths:
        if path not in allowed:
            raise invalid_field(
                "update_mask", f"{path!r} cannot be updated; allowed: {', '.join(sorted(allowed))}"
            )
    return paths
