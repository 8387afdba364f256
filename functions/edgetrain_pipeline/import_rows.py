"""The rows an import reports back: its operation's partial failures, read as rows that were rejected and
rows that were imported but kept the split an earlier import gave their image."""

from __future__ import annotations

import re
from dataclasses import dataclass

# AutoML's wording for a row, which `edgetrain serve` follows. A line number of more digits than any file has
# names no row (int() refuses one past 4,300 digits).
_ROW = re.compile(r"^Error in (?P<source>.+?) line (?P<line>\d{1,9}): (?P<reason>.*)$", re.DOTALL)
# `edgetrain serve`'s reason for a row whose image already has another split (docs/service.md, "import
# semantics"): the row is imported (its boxes count) and the image stays where it was.
_KEPT_SPLIT = re.compile(r"^image already in (TRAIN|VALIDATION|TEST); kept there$")


@dataclass(frozen=True)
class ReportedRow:
    source: str | None  # the CSV; None when the message names no row
    line: int | None
    reason: str
    kept_split: bool  # imported, with the split its image already had


def parse_row(message: str) -> ReportedRow:
    """One partial failure; a message that names no row is kept whole as the reason (a rejection)."""
    match = _ROW.match(message or "")
    if match is None:
        return ReportedRow(None, None, message, False)
    reason = match["reason"]
    return ReportedRow(match["source"], int(match["line"]), reason, bool(_KEPT_SPLIT.match(reason)))


def split_rows(messages: list[str]) -> tuple[list[ReportedRow], list[ReportedRow]]:
    """(rejected rows, kept-split rows), each in the order the operation reported them."""
    rows = [parse_row(message) for message in messages]
    return [r for r in rows if not r.kept_split], [r for r in rows if r.kept_split]
