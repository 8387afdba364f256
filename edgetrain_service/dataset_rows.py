"""How a dataset's imports add up to its training CSV: pure rules over AutoML CSV rows, no I/O.

Each import is kept as the rows it brought, over content-addressed copies (`images/<sha256>.<ext>`), and the
dataset is those imports folded in the order they were committed:
- an image is its content: rows whose stored copies share a digest are one image, whatever path, URI or
  extension the caller used;
- one image has one split, the split of the import that first brought it;
- an import that carries an image again replaces the image's whole box list with the import's list (an image
  row without a box in it makes the list empty: the image is a negative example now). Within one import all
  rows of an image are its list, an exact duplicate box counted once, so importing the same CSV again
  changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

CELLS = 11  # ML_USE, IMAGE, LABEL, then four x,y vertices (two of them empty for a 2-vertex box)
Cells = tuple[str, ...]  # one box: LABEL and the eight vertex cells, as written


@dataclass(frozen=True)
class Image:
    """One image of a dataset (or of one import): its content key, stored copy, split and boxes."""

    key: str  # the stored copy's content digest
    path: str  # the stored copy the training CSV names
    split: str  # TRAIN, VALIDATION or TEST (UNASSIGNED resolved at import)
    boxes: tuple[Cells, ...]


@dataclass(frozen=True)
class RowSplit:
    """The split one imported row asked for, and where the row is (for the operation's report)."""

    key: str
    split: str  # as resolved
    explicit: bool  # False when the row said UNASSIGNED: it asked for no particular split
    source: str
    line: int


def image_key(path: str) -> str:
    """The content digest a stored copy is named by (`images/<digest>.<ext>`)."""
    return PurePath(path).name.split(".", 1)[0]


def merge(images: Iterable[Image]) -> dict[str, Image]:
    """One import's images by key: rows of the same image are one box list (first split and copy kept)."""
    merged: dict[str, Image] = {}
    for image in images:
        seen = merged.get(image.key)
        boxes = image.boxes if seen is None else seen.boxes + image.boxes
        merged[image.key] = replace(seen or image, boxes=tuple(dict.fromkeys(boxes)))
    return merged


def parse_import(rows: Iterable[Sequence[str]]) -> dict[str, Image]:
    """The images of one stored import (rows as `training_rows` writes them)."""
    return merge(
        Image(image_key(row[1]), row[1], row[0], (tuple(row[2:CELLS]),) if len(row) > 2 and row[2] else ())
        for row in rows
        if len(row) >= 2
    )


def apply(dataset: Mapping[str, Image], imported: Mapping[str, Image]) -> dict[str, Image]:
    """The dataset after one more import: new images join, images it had keep their split and copy and take
    the import's box list."""
    out = dict(dataset)
    for key, image in imported.items():
        kept = dataset.get(key)
        out[key] = image if kept is None else replace(kept, boxes=image.boxes)
    return out


def rebuild(imports: Iterable[Mapping[str, Image]]) -> dict[str, Image]:
    """The dataset that imports committed in this order make."""
    dataset: dict[str, Image] = {}
    for imported in imports:
        dataset = apply(dataset, imported)
    return dataset


def training_rows(images: Mapping[str, Image]) -> list[list[str]]:
    """AutoML CSV rows: one per box, one empty-label row for an image without boxes."""
    rows: list[list[str]] = []
    for image in images.values():
        rows += [[image.split, image.path, *box] for box in image.boxes] or [
            [image.split, image.path] + [""] * (CELLS - 2)
        ]
    return rows


def label_image_counts(images: Mapping[str, Image]) -> Counter[str]:
    """Images per label (an image with three boxes of one label counts once, as AutoML's example count)."""
    return Counter(label for image in images.values() for label in {box[0] for box in image.boxes})


def kept_split_rows(
    before: Mapping[str, Image], imported: Mapping[str, Image], rows: Iterable[RowSplit]
) -> list[tuple[RowSplit, str]]:
    """Rows that asked for another split than their image keeps, each with the split it keeps: the split of
    the dataset `before` the import, else the one the import gave it (its first row)."""
    kept = []
    for row in rows:
        image = before.get(row.key) or imported.get(row.key)
        if row.explicit and image is not None and image.split != row.split:
            kept.append((row, image.split))
    return kept
