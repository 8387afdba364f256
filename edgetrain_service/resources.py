"""Shared helpers for stored resources: load-or-NOT_FOUND, read-modify-write, paging, update masks."""

from __future__ import annotations

import sqlite3

from google.protobuf.message import Message

from . import names
from .errors import Aborted, NotFound, invalid_field
from .resource_labels import validate_labels
from .store import Store

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# A page stops early (with a next page token, as AIP-158 allows) once its items pass this size: gRPC clients
# refuse responses over 4 MiB by default, and one operation may carry a thousand partial failures.
MAX_PAGE_BYTES = 3 * 1024 * 1024
MAX_SQLITE_INTEGER = 2**63 - 1


def load(store: Store, name: str, kind: str, cls: type[Message], label: str) -> Message:
    blob = store.get_resource(name, kind)
    if blob is None:
        raise NotFound(f"{label} {name} not found.")
    return cls.FromString(blob)


def load_for_update(db: sqlite3.Connection, name: str, kind: str, cls: type[Message], label: str) -> Message:
    """The resource as it is inside the write transaction `db`, which then writes it back: an update made
    from a copy read earlier would undo a concurrent import's counts or bring a deleted resource back."""
    row = db.execute("SELECT proto FROM resources WHERE name=? AND kind=?", (name, kind)).fetchone()
    if row is None:
        raise NotFound(f"{label} {name} not found.")
    return cls.FromString(row["proto"])


def check_etag(sent: str, current: str, label: str) -> None:
    """A request's etag, when it sends one, must be the resource's current one (a consistent
    read-modify-write); without one the update overwrites (the AutoML v1 protos' rule)."""
    if sent and sent != current:
        raise Aborted(
            f"etag {sent[:64]!r} is not the {label}'s current etag {current!r}: it changed since you read "
            "it; read it again and retry."
        )


def apply_mask(current: Message, sent: Message, paths: list[str], field: str) -> None:
    """Copy the masked fields of `sent` (display_name, description, labels) onto `current`, each checked by
    its rule; `field` names the request's resource in errors ("dataset", "model")."""
    for path in paths:
        if path == "display_name":
            current.display_name = names.validate_display_name(sent.display_name, f"{field}.display_name")
        elif path == "description":
            current.description = names.validate_description(sent.description, f"{field}.description")
        else:
            validate_labels(sent.labels, f"{field}.labels")
            current.labels.clear()
            current.labels.update(sent.labels)


def bump_etag(message: Message) -> None:
    """A changed resource gets a new etag (this service's are counters)."""
    message.etag = str(int(message.etag or "0") + 1)


def parse_page_token(token: str) -> int:
    """A page token this service returned (a row's sequence number, an SQLite integer); "" is page one."""
    if not token:
        return 0
    if not (token.isascii() and token.isdigit()) or int(token) > MAX_SQLITE_INTEGER:
        raise invalid_field("page_token", f"{token[:64]!r} is not a token this service returned")
    return int(token)


def page_size_of(requested: int) -> int:
    """AIP-158: 0 is DEFAULT_PAGE_SIZE, more than MAX_PAGE_SIZE is MAX_PAGE_SIZE, a negative size is
    INVALID_ARGUMENT."""
    if requested < 0:
        raise invalid_field("page_size", f"{requested} must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


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
    size = page_size_of(page_size)
    after = parse_page_token(page_token)
    items: list[Message] = []
    page_bytes = 0
    while True:
        rows = store.list_resources(kind, parent, after, 256)
        for row in rows:
            message = cls.FromString(row["proto"])
            if keep(row, message):
                if len(items) == size or (items and page_bytes + len(row["proto"]) > MAX_PAGE_BYTES):
                    return items, str(after)
                items.append(message)
                page_bytes += len(row["proto"])
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
