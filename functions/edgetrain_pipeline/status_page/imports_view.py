"""One import as the imports view shows it: its counts, and the rows its operation reported, rejected rows
apart from rows that were imported but kept the split their image already had (import_rows.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from ..import_rows import split_rows


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def import_view(import_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The record's counts (import_records.complete_import); None until the operation has reported (a
    running import, or one whose ImportData call was refused). A record from before the counts were stored
    gets them counted from its partial failures, which is how they are made."""
    rejected, kept = split_rows(doc.get("partialFailures") or [])
    reported = "partialFailures" in doc
    return {
        "importId": import_id,
        "datasetId": doc.get("datasetId"),
        "state": doc.get("state"),
        "inputUris": doc.get("inputUris") or [],
        "progressPercent": doc.get("progressPercent") or 0,
        "error": doc.get("error"),
        "rowsRejected": doc.get("rowsRejected", len(rejected) if reported else None),
        "rowsKeptSplit": doc.get("rowsKeptSplit", len(kept) if reported else None),
        "exampleCountAfter": doc.get("exampleCountAfter"),
        "rejected": [asdict(row) for row in rejected],
        "keptSplit": [asdict(row) for row in kept],
        "createdAt": _iso(doc.get("createdAt")),
        "finishedAt": _iso(doc.get("finishedAt")),
    }
