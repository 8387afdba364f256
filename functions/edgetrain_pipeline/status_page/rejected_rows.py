"""An import's rejected rows as the service reports them: each partial failure reads
"Error in SOURCE line N: REASON" (AutoML's wording); anything else is kept whole as the reason."""

from __future__ import annotations

import re
from typing import Any

_ROW = re.compile(r"^Error in (?P<source>.+?) line (?P<line>\d+): (?P<reason>.*)$", re.DOTALL)


def parse_rejected(text: str) -> dict[str, Any]:
    """{source, line (int), reason}; source and line are None when the message names no row."""
    match = _ROW.match(text or "")
    if match is None:
        return {"source": None, "line": None, "reason": text}
    return {"source": match["source"], "line": int(match["line"]), "reason": match["reason"]}
