"""Datasets for the trainer: AutoML Vision object-detection import CSVs and Pascal VOC folders.

    load_dataset(path, resolve=None) -> Dataset        # for training; DatasetError if nothing usable
    validate_import(path, resolve=None) -> ImportReport  # for ImportData; never raises on bad rows

Every row is validated the way AutoML's ImportData does (see csv_reader.py / voc_reader.py for the
row rules). A bad row becomes a RowError(line, reason, source) and is skipped; the good rows are kept.
Coordinates are normalized to 0–1, relative to the image in display orientation (EXIF applied).
Labels are sorted (Python string order); a label's class id is its index in `Dataset.labels`.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from . import csv_reader, voc_reader
from .image_ids import image_id
from .images import MAX_IMAGE_BYTES, UnreadableImageError, check_image
from .rows import (
    MAX_BOXES_PER_IMAGE,
    SPLITS,
    UNASSIGNED,
    UNASSIGNED_SPLIT,
    AnnotationRow,
    Box,
    Resolver,
    RowError,
)


@dataclass(frozen=True)
class Example:
    """One image and all its boxes.

    image_path: local file to read (with images.load_rgb). image_ref: the image as written in the
    source (CSV cell, or VOC path relative to the folder) — the stable key for hashing splits.
    split: TRAIN / VALIDATION / TEST (UNASSIGNED already resolved); ml_use: the value as imported.
    width/height: pixels in display orientation. boxes may be empty (an image with no objects).
    """

    image_path: Path
    image_ref: str
    split: str
    ml_use: str
    boxes: tuple[Box, ...]
    width: int
    height: int

    def boxes_yxyx(self) -> np.ndarray:
        """float32 [N, 4] (ymin, xmin, ymax, xmax), normalized — the TF / TF Lite box order."""
        return np.array([[b.ymin, b.xmin, b.ymax, b.xmax] for b in self.boxes], np.float32).reshape(-1, 4)

    def class_ids(self) -> np.ndarray:
        """int32 [N] class ids, aligned with boxes_yxyx()."""
        return np.array([b.class_id for b in self.boxes], np.int32)


@dataclass
class Dataset:
    """Validated examples (file order), sorted labels, and the rows that were rejected."""

    sources: list[Path]
    examples: list[Example]
    labels: list[str]
    errors: list[RowError] = field(default_factory=list)

    def split(self, name: str) -> list[Example]:
        """Examples of one split (TRAIN, VALIDATION or TEST), in file order."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {name!r}")
        return [e for e in self.examples if e.split == name]

    @property
    def box_count(self) -> int:
        return sum(len(e.boxes) for e in self.examples)

    def label_counts(self) -> dict[str, int]:
        """Boxes per label, in class-id order."""
        counts = Counter(b.label for e in self.examples for b in e.boxes)
        return {label: counts[label] for label in self.labels}

    def split_counts(self) -> dict[str, int]:
        """Images per split."""
        counts = Counter(e.split for e in self.examples)
        return {name: counts[name] for name in SPLITS}


@dataclass
class ImportReport:
    """What an import would bring in: the dataset (possibly empty), rows read, and the row errors."""

    dataset: Dataset
    row_count: int

    @property
    def errors(self) -> list[RowError]:
        return self.dataset.errors

    @property
    def usable(self) -> bool:
        """True when at least one image has at least one valid box (training is possible)."""
        return self.dataset.box_count > 0

    def unusable_reason(self) -> str:
        """Why training is impossible, said after the row errors have been listed."""
        if self.row_count == 0:
            if any(source.is_dir() for source in self.dataset.sources):
                return "no annotations found (a Pascal VOC folder holds Annotations/*.xml or *.xml below it)"
            return "no annotation rows found"
        return f"no image has a valid box ({self.row_count} rows read, {len(self.errors)} bad, listed above)"

    def to_dict(self) -> dict[str, Any]:
        ds = self.dataset
        return {
            "sources": [str(s) for s in ds.sources],
            "rowCount": self.row_count,
            "imageCount": len(ds.examples),
            "boxCount": ds.box_count,
            "labels": ds.labels,
            "labelCounts": ds.label_counts(),
            "splitCounts": ds.split_counts(),
            "errorCount": len(ds.errors),
            "errors": [e.to_dict() for e in ds.errors],
            "usable": self.usable,
        }


def load_dataset(path: Path | str | Sequence[Path | str], *, resolve: Resolver | None = None) -> Dataset:
    """Read and validate an AutoML CSV (file), a Pascal VOC folder (directory), or a list of CSVs.

    resolve: optional callable mapping an image reference exactly as written in the CSV
    (e.g. "gs://bucket/x.jpg") to a local Path; it may return None to fall back to the default
    (absolute path, or relative to the CSV's folder). Exceptions it raises become row errors.
    Raises DatasetError (with .errors) when the source cannot be read or no valid box is left.
    """
    report = validate_import(path, resolve=resolve)
    if not report.usable:
        errors = report.errors
        first = "; ".join(str(e) for e in errors[:5]) or "no annotation rows"
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise DatasetError(
            f"no usable training data in {', '.join(map(str, report.dataset.sources))}: "
            f"{len(errors)} bad rows: {first}{more}",
            errors,
        )
    return report.dataset


def validate_import(
    path: Path | str | Sequence[Path | str], resolve: Resolver | None = None, by_content: bool = True
) -> ImportReport:
    """Validate like AutoML ImportData: returns counts and per-row errors; raises only for unreadable files.
    by_content=False keeps byte-identical files apart, as the service's row check does (see assemble).

    Raises DatasetError when a source does not exist or cannot be read as a CSV / VOC folder.
    """
    sources = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    rows: list[AnnotationRow] = []
    errors: list[RowError] = []
    row_count = 0
    for source in sources:
        if source.is_dir():
            src_rows, src_errors, n = voc_reader.read_voc(source)
        elif source.is_file():
            src_rows, src_errors, n = csv_reader.read_csv(source, resolve)
        else:
            raise DatasetError(f"{source}: no such CSV file or VOC folder")
        rows += src_rows
        errors += src_errors
        row_count += n
    dataset = assemble(sources, rows, errors, by_content)
    return ImportReport(dataset=dataset, row_count=row_count)


def assign_split(ml_use: str, image_ref: str) -> str:
    """TRAIN/VALIDATION/TEST as given; UNASSIGNED by a SHA-256 of image_ref (same on every machine)."""
    if ml_use != UNASSIGNED:
        return ml_use
    fraction = int.from_bytes(hashlib.sha256(image_ref.encode("utf-8")).digest()[:8], "big") / 2**64
    return next(name for name, upper in UNASSIGNED_SPLIT if fraction < upper)


def assemble(
    sources: list[Path], rows: list[AnnotationRow], errors: list[RowError], by_content: bool = True
) -> Dataset:
    """Group rows by image, apply the per-image rules, check every image once, and number the labels.

    An image is its file's bytes, as in AutoML: rows naming the same picture under another path (a copy, a
    link) add to one example, unless `by_content` is False (the service's import, which merges by content
    itself and lets an earlier import's split win). Per-image rules: one ML_USE per image (later rows that
    disagree are rejected), a repeated box counts once, at most 500 boxes (rows past the 500th are
    rejected), and the image must open (else each of its rows is rejected).
    """
    errors = list(errors)
    keys: dict[str, str] = {}
    images: dict[str, dict[str, Any]] = {}
    for row in rows:
        path = os.path.abspath(row.image_path)  # one image however the rows spell its path
        if path not in keys:
            keys[path] = _content_key(path) if by_content else path
        # "boxes": the image's distinct boxes in row order (a dict as an ordered set); "rows": every row kept
        image = images.setdefault(keys[path], {"first": row, "rows": [], "boxes": {}})
        first: AnnotationRow = image["first"]
        if row.ml_use != first.ml_use:
            same = "" if row.image_ref == first.image_ref else f" (as {first.image_ref}, the same picture)"
            errors.append(
                _error(
                    row,
                    f"image {row.image_ref} has ML_USE {row.ml_use} here but {first.ml_use} "
                    f"at {first.source}:{first.line}{same}; an image belongs to one set",
                )
            )
            continue
        if row.box is not None and row.box not in image["boxes"]:
            if len(image["boxes"]) >= MAX_BOXES_PER_IMAGE:
                errors.append(_error(row, f"image {row.image_ref} has more than {MAX_BOXES_PER_IMAGE} boxes"))
                continue
            image["boxes"][row.box] = None
        image["rows"].append(row)

    checked: list[tuple[dict[str, Any], int, int]] = []
    for image in images.values():
        try:
            width, height = check_image(image["first"].image_path)
        except UnreadableImageError as exc:
            errors += [_error(row, exc.reason + f" ({row.image_ref})") for row in image["rows"]]
            continue
        checked.append((image, width, height))

    labels = sorted({box.label for image, _, _ in checked for box in image["boxes"]})
    class_ids = {label: i for i, label in enumerate(labels)}
    examples = []
    for image, width, height in checked:
        first = image["first"]
        boxes = tuple(replace(box, class_id=class_ids[box.label]) for box in image["boxes"])
        split = assign_split(first.ml_use, first.image_ref)
        examples.append(Example(first.image_path, first.image_ref, split, first.ml_use, boxes, width, height))
    errors.sort(key=lambda e: (str(e.source), e.line))
    return Dataset(sources=sources, examples=examples, labels=labels, errors=errors)


def _content_key(path: str) -> str:
    """The SHA-256 of a file an image may be; the path itself for anything else (its rows are then rejected
    with check_image's reason), so a FIFO is never opened and an oversized file never read."""
    try:
        readable = os.path.isfile(path) and 0 < os.path.getsize(path) <= MAX_IMAGE_BYTES
        return image_id(path) if readable else path
    except OSError:
        return path


def _error(row: AnnotationRow, reason: str) -> RowError:
    return RowError(line=row.line, reason=reason, source=row.source)
