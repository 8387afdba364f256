"""The row-level vocabulary shared by the CSV and VOC readers and the dataset assembler: AutoML's split
names and limits, a labeled Box, a RowError, and the AnnotationRow each reader produces.

Kept apart from dataset.py so the readers and the assembler import it one way (no cycle). Nothing here
imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TRAIN, VALIDATION, TEST, UNASSIGNED = "TRAIN", "VALIDATION", "TEST", "UNASSIGNED"
SPLITS = (TRAIN, VALIDATION, TEST)
ML_USES = (TRAIN, VALIDATION, TEST, UNASSIGNED)
MAX_BOXES_PER_IMAGE = 500  # AutoML's limit
MIN_BOX_EDGE = 0.01  # AutoML's minimum normalized box edge
# Float subtraction (0.71 - 0.70 = 0.00999…) and 6-decimal CSVs: an edge this close to 0.01 counts as 0.01.
EDGE_TOLERANCE = 1e-6
# UNASSIGNED images: hash of the image reference -> TRAIN below 0.8, VALIDATION below 0.9, else TEST.
UNASSIGNED_SPLIT = ((TRAIN, 0.8), (VALIDATION, 0.9), (TEST, 1.0))

Resolver = Callable[[str], "Path | str | None"]


@dataclass(frozen=True)
class RowError:
    """One rejected row: `line` is the 1-based line number in `source` (the CSV or VOC XML file)."""

    line: int
    reason: str
    source: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "source": self.source}


@dataclass(frozen=True)
class Box:
    """One labeled box, normalized 0–1 corners (xmin < xmax, ymin < ymax), in display orientation."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    class_id: int = -1  # index into Dataset.labels; set when the dataset is assembled


@dataclass
class AnnotationRow:
    """A parsed, row-level-valid annotation (internal contract between the readers and the assembler).

    box is None for an image listed with no objects. image_path is the resolved local file.
    """

    line: int
    source: str
    image_ref: str
    image_path: Path
    ml_use: str
    box: Box | None
