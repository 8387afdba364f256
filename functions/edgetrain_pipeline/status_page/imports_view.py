"""One import as the imports view shows it: its counts, and the rows its operation reported, rejected rows
apart from rows that were imported but kept the split their image already had (import_rows.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..import_rows import split_rows
from .values import finite_number, iso, listed, text


def import_view(import_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The record's counts (import_records.complete_import); None until the operation has reported (a
    running import, or one whose ImportData call was refused). A record from before the counts were stored
    gets them counted from its partial failures, which is how they are made."""
    rejected, kept = split_rows(listed(doc.get("partialFailures"), str))
    reported = "partialFailures" in doc
    uris = doc.get("inputUris")
    return {
        "importId": import_id,
        "datasetId": text(doc.get("datasetId")),
        "state": text(doc.get("state")),
        "inputUris": [uris] if isinstance(uris, str) else listed(uris, str),
        "progressPercent": finite_number(doc.get("progressPercent")) or 0,
        "error": text(doc.get("error")),
        "rowsRejected": _count(doc, "rowsRejected", len(rejected) if reported else None),
        "rowsKeptSplit": _count(doc, "rowsKeptSplit", len(kept) if reported else None),
        "exampleCountAfter": finite_number(doc.get("exampleCountAfter")),
        "rejected": [asdict(row) for row in rejected],
        "keptSplit": [asdict(row) for row in kept],
        "createdAt": iso(doc.get("createdAt")),
        "finishedAt": iso(doc.get("finishedAt")),
    }


def _count(doc: dict[str, Any], field: str, counted: int | None) -> Any:
    """The stored count, or the one counted from the rows for a record from before counts were stored."""
    return finite_number(doc[field]) if field in doc else counted
