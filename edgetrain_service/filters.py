"""AutoML's ListOperations filter syntax, compiled to SQL over the operations table.

Terms joined by AND: `done=true`, `done!=false`, `worksOn=projects/P/locations/L/models/*`,
`operation_id=IOD123`, each with `=` or `!=`; values may be quoted. Unknown keys are INVALID_ARGUMENT.
"""

from __future__ import annotations

import re

from .errors import invalid_field

_TERM = re.compile(r"^\s*([A-Za-z_]+)\s*(!=|=)\s*(.*?)\s*$")
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
MAX_TERMS = 20  # far above any useful filter; SQLite refuses expressions past a depth of about a thousand
_COLUMNS = {
    "done": "done",
    "worksOn": "works_on",
    "works_on": "works_on",
    "operation_id": "op_id",
    "operationId": "op_id",
}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def compile_operation_filter(text: str) -> tuple[str, list]:
    """Return (SQL condition, params) for a filter string; an empty filter matches everything."""
    text = _unquote((text or "").strip())
    if not text:
        return "1", []
    clauses: list[str] = []
    params: list[int | str] = []
    terms = _AND.split(text)
    if len(terms) > MAX_TERMS:
        raise invalid_field("filter", f"has {len(terms)} terms; at most {MAX_TERMS} joined by AND")
    for term in terms:
        match = _TERM.match(term)
        if not match:
            raise invalid_field("filter", f"cannot parse {term!r}; use KEY=VALUE or KEY!=VALUE joined by AND")
        key, op, value = match.group(1), match.group(2), _unquote(match.group(3))
        column = _COLUMNS.get(key)
        if column is None:
            raise invalid_field("filter", f"unknown key {key!r}; use done, worksOn or operation_id")
        if column == "done":
            if value.lower() not in ("true", "false"):
                raise invalid_field("filter", f"done must be true or false, not {value!r}")
            clauses.append(f"done {op} ?")
            params.append(int(value.lower() == "true"))
        elif "*" in value:
            # worksOn=projects/P/locations/L/models/* : a prefix match on the resource collection.
            clauses.append(f"{'' if op == '=' else 'NOT '}{column} GLOB ?")
            params.append(re.sub(r"([\[\]?])", r"[\1]", value))
        else:
            clauses.append(f"{column} {op} ?")
            params.append(value)
    return " AND ".join(clauses), params
