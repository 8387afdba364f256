"""Values read from Firestore as the page shows them: a document written by an older version or edited by
hand may hold a string, null or NaN where a number belongs, and one such document must not break a page."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


def finite_number(value: Any) -> float | int | None:
    """The value when it is a finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def iso(value: Any) -> str | None:
    """A Firestore timestamp as ISO 8601; a string as it is; anything else None."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, str) else None


def mapping(value: Any) -> dict[str, Any]:
    """A map as it is; anything else an empty one."""
    return value if isinstance(value, dict) else {}


def listed(value: Any, kind: type = object) -> list[Any]:
    """The items of a list that are of `kind`; anything but a list (a string would read as its characters)
    gives none."""
    return [item for item in value if isinstance(item, kind)] if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A string as it is; a number as its text; anything else (null, a map) None."""
    if isinstance(value, str):
        return value
    return str(value) if finite_number(value) is not None else None


def without_nan(value: Any) -> Any:
    """The value with every non-finite float replaced by None, for strict JSON (NaN is not JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(item) for item in value]
    return value
