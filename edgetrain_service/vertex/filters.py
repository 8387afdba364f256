"""The subset of Vertex's list filter syntax (AIP-160) this service evaluates.

Terms joined by AND, each `KEY = VALUE` or `KEY != VALUE`, optionally preceded by NOT; values may be quoted
(and then hold spaces, even ` AND `). Keys: the ones a list names (e.g. `display_name`, `state`) and
`labels.KEY`. Anything else (OR, `:`, `<`, functions) is INVALID_ARGUMENT naming `filter`, never a silently
ignored condition; so is a filter longer than MAX_FILTER_CHARS (the split is AutoML's, in one pass).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping

from google.protobuf.message import Message

from .. import names as automl_names
from ..errors import invalid_field
from ..filters import split_terms, within_cap
from ..resources import page
from ..store import Store

_TERM = re.compile(r'^(NOT\s+)?([A-Za-z_][A-Za-z0-9_.\-/]*)\s*(!=|=)\s*("[^"]*"|\'[^\']*\'|[^\s"\']+)$')

Attributes = Callable[[str], "str | None"]  # key -> the resource's value (None: no such label)


def compile_filter(
    text: str, keys: set[str], choices: Mapping[str, Collection[str]] | None = None
) -> Callable[[Attributes], bool]:
    """A predicate over a resource's attributes; `keys` are the filterable keys besides labels.KEY, `choices`
    the values an enum key can take (another value is a typo, not a condition that matches nothing)."""
    text = within_cap(text or "").strip()
    if not text:
        return lambda attributes: True
    terms = []
    for term in split_terms(text):
        match = _TERM.match(term)
        if not match:
            raise invalid_field(
                "filter", f'cannot parse {term!r}; use KEY="VALUE" or KEY!="VALUE" joined by AND'
            )
        negate, key, op, value = bool(match.group(1)), match.group(2), match.group(3), match.group(4)
        if key not in keys and not key.startswith("labels."):
            raise invalid_field("filter", f"unknown key {key!r}; use {', '.join(sorted(keys))} or labels.KEY")
        if value[0] in "\"'":
            value = value[1:-1]
        allowed = (choices or {}).get(key)
        if allowed is not None and value not in allowed:
            raise invalid_field("filter", f"{key} {value!r} is not one of {', '.join(sorted(allowed))}")
        terms.append((key, (op == "=") != negate, value))

    def matches(attributes: Attributes) -> bool:
        return all((attributes(key) == value) == equal for key, equal, value in terms)

    return matches


def attributes_of(values: Mapping[str, str], labels: Mapping[str, str]) -> Attributes:
    return lambda key: labels.get(key[len("labels.") :]) if key.startswith("labels.") else values.get(key)


def refuse_unserved(request, fields: tuple[str, ...]) -> None:
    """List options this service does not apply (order_by, read_mask) are refused, not ignored."""
    for name in fields:
        if request.HasField(name) if name == "read_mask" else getattr(request, name):
            raise invalid_field(name, "is not supported by this service; leave it empty")


def listed_by_display_name(store: Store, request, kind: str, cls: type[Message]) -> tuple[list, str]:
    """One page of a ListDatasets / ListModels request: the AutoML resources of `kind` under its parent that
    its filter (display_name, labels.KEY) keeps; returns (items, next page token)."""
    parent = automl_names.parse_location(request.parent)
    refuse_unserved(request, ("order_by", "read_mask"))
    keep = compile_filter(request.filter, {"display_name"})
    return page(
        store,
        kind,
        parent,
        cls,
        request.page_size,
        request.page_token,
        lambda row, item: keep(attributes_of({"display_name": item.display_name}, item.labels)),
    )
