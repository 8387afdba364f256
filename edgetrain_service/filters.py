"""AutoML's filter syntax: ListOperations's compiled to SQL over the operations table, and the shared parsing
of every list filter (the Vertex ones too).

Terms joined by AND: `done=true`, `done!=false`, `worksOn=projects/P/locations/L/models/*`,
`operation_id=IOD123`, each with `=` or `!=`; values may be quoted. Unknown keys are INVALID_ARGUMENT.

A filter is at most MAX_FILTER_CHARS long and is split into words in one pass: a regex such as `\\s+AND\\s+`
scans a whitespace run from each of its characters, and Python's `re` holds the GIL, so one long run of
spaces once stalled the whole server.
"""

from __future__ import annotations

import re

from .errors import invalid_field

MAX_FILTER_CHARS = 4096
_TERM = re.compile(r"^([A-Za-z_]+)\s*(!=|=)\s*(.*)$")  # on one term, its whitespace collapsed
MAX_TERMS = 20  # far above any useful filter; SQLite refuses expressions past a depth of about a thousand
_COLUMNS = {
    "done": "done",
    "worksOn": "works_on",
    "works_on": "works_on",
    "operation_id": "op_id",
    "operationId": "op_id",
}


def within_cap(text: str) -> str:
    """`text`, or INVALID_ARGUMENT naming `filter` when it is longer than MAX_FILTER_CHARS."""
    if len(text) > MAX_FILTER_CHARS:
        raise invalid_field(
            "filter", f"has {len(text):,} characters; at most {MAX_FILTER_CHARS:,} characters are allowed"
        )
    return text


def filter_words(text: str) -> list[str]:
    """`text` split at whitespace outside quotes (a quoted value keeps its spaces), in one pass. An unclosed
    quote runs to the end of the text."""
    within_cap(text)
    words: list[str] = []
    word: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char.isspace():
            if word:
                words.append("".join(word))
                word = []
            continue
        word.append(char)
    if word:
        words.append("".join(word))
    return words


def split_terms(text: str, ignore_case: bool = False) -> list[str]:
    """The terms of `text` joined by the word AND (any case with `ignore_case`), each one's words joined by
    one space; INVALID_ARGUMENT naming `filter` for OR, which no list filter here supports."""
    terms: list[list[str]] = [[]]
    for word in filter_words(text):
        keyword = word.upper() if ignore_case else word
        if keyword == "OR":
            raise invalid_field("filter", f"{text!r}: OR is not supported; join terms with AND")
        if keyword == "AND":
            terms.append([])
        else:
            terms[-1].append(word)
    return [" ".join(words) for words in terms]


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def automl_terms(text: str) -> list[tuple[str, str, str]]:
    """(key, "=" or "!=", unquoted value) for each term of an AutoML filter, KEY=VALUE or KEY!=VALUE joined by
    AND; INVALID_ARGUMENT naming `filter` for anything else. The value is the rest of its term: check it with
    `id_value` where it names a resource."""
    terms = split_terms(text, ignore_case=True)
    if len(terms) > MAX_TERMS:
        raise invalid_field("filter", f"has {len(terms)} terms; at most {MAX_TERMS} joined by AND")
    parsed = []
    for term in terms:
        match = _TERM.match(term)
        if not match:
            raise invalid_field("filter", f"cannot parse {term!r}; use KEY=VALUE or KEY!=VALUE joined by AND")
        parsed.append((match.group(1), match.group(2), unquote(match.group(3))))
    return parsed


def id_value(key: str, value: str) -> str:
    """`value` of `key` when it can be an id or a resource name (one word); INVALID_ARGUMENT naming `filter`
    otherwise: "A B" or "A OR" would be syntax this filter does not serve, silently matching nothing."""
    if not value or any(char.isspace() for char in value):
        raise invalid_field("filter", f"{key} {value!r} must be one id or name, with no whitespace")
    return value


def compile_operation_filter(text: str) -> tuple[str, list]:
    """Return (SQL condition, params) for a filter string; an empty filter matches everything."""
    text = unquote(within_cap(text or "").strip())
    if not text:
        return "1", []
    clauses: list[str] = []
    params: list[int | str] = []
    for key, op, value in automl_terms(text):
        column = _COLUMNS.get(key)
        if column is None:
            raise invalid_field("filter", f"unknown key {key!r}; use done, worksOn or operation_id")
        if column == "done":
            if value.lower() not in ("true", "false"):
                raise invalid_field("filter", f"done must be true or false, not {value!r}")
            clauses.append(f"done {op} ?")
            params.append(int(value.lower() == "true"))
            continue
        if "*" in id_value(key, value):
            # worksOn=projects/P/locations/L/models/* : a prefix match on the resource collection.
            clauses.append(f"{'' if op == '=' else 'NOT '}{column} GLOB ?")
            params.append(re.sub(r"([\[\]?])", r"[\1]", value))
        else:
            clauses.append(f"{column} {op} ?")
            params.append(value)
    return " AND ".join(clauses), params
