"""AutoML Vision object-detection import CSV: row parsing and the row-level rules of ImportData.

Row format (11 columns, no header):  ML_USE,IMAGE,LABEL,X1,Y1,X2,Y2,X3,Y3,X4,Y4
- 2 vertices:  TRAIN,img.jpg,car,X_MIN,Y_MIN,,,X_MAX,Y_MAX,,   (top-left and bottom-right corners)
- 4 vertices:  TRAIN,img.jpg,car,0.1,0.1,0.2,0.1,0.2,0.3,0.1,0.3  (an axis-parallel rectangle, in
  connected order; any starting corner)
- no objects:  TEST,img.jpg,,,,,,,,,
ML_USE is TRAIN, VALIDATION (or AutoML's spelling VALIDATE), TEST or UNASSIGNED, any case.
Coordinates are numbers in 0–1 ("0.3" or ".3"); each box edge must be ≥ 0.01. LABEL: at most 32
ASCII letters, digits or underscores (AutoML's rule). Image references: absolute paths, paths
relative to the CSV's folder, file:// URIs, or anything the `resolve` callable maps (gs://...).
Blank lines are ignored. Per-image rules (one ML_USE per image, ≤ 500 boxes, image opens, ≤ 30 MB)
are applied afterwards, in dataset.assemble.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from ..errors import DatasetError
from .rows import EDGE_TOLERANCE, MIN_BOX_EDGE, ML_USES, AnnotationRow, Box, Resolver, RowError

COLUMNS = ("ML_USE", "IMAGE", "LABEL", "X1", "Y1", "X2", "Y2", "X3", "Y3", "X4", "Y4")
ML_USE_ALIASES = {"VALIDATE": "VALIDATION"}
LABEL_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")


class RowRejected(ValueError):
    """Internal: the row breaks a rule; the message is the reason shown to the user."""


def read_csv(path: Path, resolve: Resolver | None = None) -> tuple[list[AnnotationRow], list[RowError], int]:
    """Parse one CSV into (valid rows, row errors, number of non-blank rows).

    Raises DatasetError if the file cannot be read or is not UTF-8 text.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        before = exc.object[: exc.start]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} on line {line}, byte {exc.start})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read CSV ({exc.strerror or exc})") from exc

    source = str(path)
    resolved: dict[str, Path] = {}
    rows: list[AnnotationRow] = []
    errors: list[RowError] = []
    count = 0
    for line, cells, problem in csv_lines(text):
        count += 1
        if problem:
            errors.append(RowError(line, problem, source))
            continue
        try:
            ml_use, image_ref, box = parse_row(cells)
            if image_ref not in resolved:
                resolved[image_ref] = resolve_image(image_ref, path.parent, resolve)
            rows.append(AnnotationRow(line, source, image_ref, resolved[image_ref], ml_use, box))
        except RowRejected as exc:
            errors.append(RowError(line, str(exc), source))
    return rows, errors, count


def csv_lines(text: str) -> Iterator[tuple[int, list[str], str | None]]:
    """(line number, stripped cells, None) for each non-blank line of an import CSV, or (line number, [],
    why it cannot be read). One record per line: no import cell holds a line break, so a quote left open
    costs its own line, not every line up to the next quote."""
    for line, physical in enumerate(io.StringIO(text, newline="").readlines(), start=1):
        try:
            cells = next(csv.reader([physical.rstrip("\r\n") + "\n"]), [])
        except csv.Error as exc:
            yield line, [], f"malformed CSV ({exc})"
            continue
        if cells and cells[-1].endswith("\n"):  # the line ended inside a quoted cell
            yield line, [], "a quote is not closed on its line"
        elif any(stripped := [cell.strip() for cell in cells]):
            yield line, stripped, None


def parse_row(cells: list[str]) -> tuple[str, str, Box | None]:
    """Validate one row's cells; returns (ML_USE, image reference, box or None). Raises RowRejected."""
    if len(cells) != len(COLUMNS):
        raise RowRejected(
            f"expected {len(COLUMNS)} columns (ML_USE,IMAGE,LABEL,X_MIN,Y_MIN,,,X_MAX,Y_MAX,, "
            f"or 4 vertices), found {len(cells)}"
        )
    ml_use = ML_USE_ALIASES.get(cells[0].upper(), cells[0].upper())
    if ml_use not in ML_USES:
        raise RowRejected(f"ML_USE {cells[0]!r} must be one of TRAIN, VALIDATION, TEST, UNASSIGNED")
    image_ref = cells[1]
    if not image_ref:
        raise RowRejected("IMAGE is empty")
    if "\x00" in image_ref:  # no file system path can hold one; os calls raise ValueError on it
        raise RowRejected("IMAGE contains a NUL character")
    label, coords = cells[2], cells[3:]
    if not label and not any(coords):
        return ml_use, image_ref, None  # an image with no objects
    if not label:
        raise RowRejected("a bounding box needs a LABEL")
    if not LABEL_PATTERN.fullmatch(label):
        raise RowRejected(f"LABEL {label!r} must be 1–32 ASCII letters, digits or underscores")
    if not any(coords):
        raise RowRejected(f"LABEL {label!r} has no bounding box")
    return ml_use, image_ref, Box(label, *_parse_box(coords))


def _parse_box(coords: list[str]) -> tuple[float, float, float, float]:
    filled = [bool(c) for c in coords]
    if filled == [True, True, False, False, True, True, False, False]:
        names = ("X_MIN", "Y_MIN", "X_MAX", "Y_MAX")
        xmin, ymin, xmax, ymax = (_coordinate(n, coords[i]) for n, i in zip(names, (0, 1, 4, 5), strict=True))
        if xmin >= xmax:
            raise RowRejected(f"X_MIN {xmin:g} must be less than X_MAX {xmax:g}")
        if ymin >= ymax:
            raise RowRejected(f"Y_MIN {ymin:g} must be less than Y_MAX {ymax:g}")
    elif all(filled):
        values = [_coordinate(COLUMNS[3 + i], c) for i, c in enumerate(coords)]
        xmin, ymin, xmax, ymax = _rectangle(list(zip(values[0::2], values[1::2], strict=True)))
    else:
        raise RowRejected(
            f"bounding box must be 2 vertices (X_MIN,Y_MIN,,,X_MAX,Y_MAX,,) or 4 vertices (8 numbers); "
            f"found {sum(filled)} of 8 coordinate cells filled"
        )
    width, height = xmax - xmin, ymax - ymin
    if width < MIN_BOX_EDGE - EDGE_TOLERANCE or height < MIN_BOX_EDGE - EDGE_TOLERANCE:
        raise RowRejected(
            f"box {width:.4g} x {height:.4g} is smaller than the minimum edge {MIN_BOX_EDGE} "
            "(relative to the image)"
        )
    return xmin, ymin, xmax, ymax


def _coordinate(column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RowRejected(f"{column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RowRejected(f"{column} {text!r} is not a number")
    if not 0.0 <= value <= 1.0:
        raise RowRejected(f"{column} {text} is outside 0–1 (coordinates are relative to the image size)")
    return value


def _rectangle(vertices: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    """4 vertices connected in order must form an axis-parallel rectangle; returns its corners."""
    xs, ys = sorted({x for x, _ in vertices}), sorted({y for _, y in vertices})
    corners_ok = len(xs) == 2 and len(ys) == 2 and len(set(vertices)) == 4
    edges_ok = all(
        (a[0] == b[0]) != (a[1] == b[1]) for a, b in zip(vertices, vertices[1:] + vertices[:1], strict=True)
    )
    if not (corners_ok and edges_ok):
        raise RowRejected(
            "the 4 vertices must be the corners of an axis-parallel rectangle, in connected order; got "
            + " ".join(f"({x:g},{y:g})" for x, y in vertices)
        )
    return xs[0], ys[0], xs[1], ys[1]


def resolve_image(image_ref: str, csv_dir: Path, resolve: Resolver | None) -> Path:
    """Map an image reference to a local path: `resolve` first, then file:// URIs and local paths."""
    if resolve is not None:
        try:
            local = resolve(image_ref)
        except Exception as exc:  # the resolver is the caller's code (e.g. a GCS download): report, skip row
            raise RowRejected(f"cannot fetch image {image_ref} ({exc})") from exc
        if local is not None:
            return Path(local)
    if image_ref.startswith("file://"):
        try:
            image_ref = file_uri_path(image_ref)
        except ValueError as exc:
            raise RowRejected(f"image {exc}") from None
        if "\x00" in image_ref:
            raise RowRejected("IMAGE contains a NUL character (%00)")
    elif "://" in image_ref:
        raise RowRejected(
            f"image {image_ref} is a URI; only local paths are readable here (copy the images here and name "
            "them by path)"
        )
    local = Path(image_ref).expanduser()
    return local if local.is_absolute() else csv_dir / local


def file_uri_path(uri: str) -> str:
    """The local path of a file:// URI, %-escapes decoded (file:///d/my%20cells.jpg is "/d/my cells.jpg"); a
    "#" or "?" stays part of the name. ValueError for a URI that names another machine or no absolute path."""
    host, _, path = uri[len("file://") :].partition("/")
    if host not in ("", "localhost"):
        raise ValueError(f"{uri} is not a local file URI (file:///PATH or file://localhost/PATH)")
    return unquote("/" + path)
