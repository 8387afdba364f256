"""Vertex's image bounding-box import files (CSV and JSON Lines) rewritten as AutoML CSVs for the import job.

CSV rows: `[ML_USE,]GCS_FILE_PATH,LABEL,X_MIN,Y_MIN,,,X_MAX,Y_MAX,,` (or 4 vertices), or
`[ML_USE,]GCS_FILE_PATH` for an image with no objects; ML_USE is training, validation or test, and an
image without one is split 80/10/10 as AutoML's UNASSIGNED. JSON Lines: one image per line with
`imageGcsUri`, `boundingBoxAnnotations` (`displayName`, `xMin`, `yMin`, `xMax`, `yMax`) and
`dataItemResourceLabels` holding `aiplatform.googleapis.com/ml_use`.

What only Vertex checks (ML_USE spelling, JSON shape, gs:// images, labels this service cannot store) is
refused here, row by row; everything else (boxes, images, labels) is the import job's, with the trainer's
rules. Each converted CSV keeps the caller's line number of every row it writes, so the job's partial
failures can name the caller's file and line; that holds only while the CSV has one record per line, so a
value holding a control character (a line break above all) is refused. Of the refusals only the first
MAX_PARTIAL_FAILURES are kept, and a count: Vertex reports no more.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgetrain_trainer.data.csv_reader import csv_lines

from ..config import WORK_BUCKET, ServiceConfig
from ..errors import invalid_field
from ..importer import remove_copies
from .operations import MAX_PARTIAL_FAILURES

ML_USES = {"training": "TRAIN", "validation": "VALIDATION", "test": "TEST"}
ML_USE_LABEL = "aiplatform.googleapis.com/ml_use"
ANNOTATION_SET_LABEL = "aiplatform.googleapis.com/annotation_set_name"
_ANNOTATION_KEYS = {"displayName", "xMin", "yMin", "xMax", "yMax", "annotationResourceLabels"}
_LINE_KEYS = {"imageGcsUri", "boundingBoxAnnotations", "dataItemResourceLabels"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's Cc


class Refused(ValueError):
    """A row this converter rejects; the message is the reason shown to the caller."""


@dataclass
class Converted:
    uris: list[str] = field(default_factory=list)  # the AutoML CSVs to import (gs:// under WORK_BUCKET)
    failures: list[str] = field(default_factory=list)  # the first refusals: "Error in URI line N: reason"
    refused: int = 0  # rows refused in all
    sources: dict[str, dict] = field(
        default_factory=dict
    )  # AutoML CSV uri -> {"uri": source, "lines": [...]}
    rows: int = 0

    def refuse(self, message: str) -> None:
        self.refused += 1
        if len(self.failures) < MAX_PARTIAL_FAILURES:
            self.failures.append(message)


def convert(config: ServiceConfig, sources: list[tuple[str, str]], work_id: str) -> Converted:
    """`sources`: (gs:// URI, request field naming it). Writes one AutoML CSV per source; if one source is
    refused as a whole, the CSVs written before it are removed and the error raised."""
    out = Converted()
    try:
        for number, (uri, field_name) in enumerate(sources):
            _convert_one(config, uri, field_name, f"gs://{WORK_BUCKET}/{work_id}/{number}.csv", out)
    except BaseException:
        remove_copies(config, out.uris)
        raise
    return out


def _convert_one(config: ServiceConfig, uri: str, field_name: str, target: str, out: Converted) -> None:
    if not uri.startswith("gs://"):  # Vertex reads import files from Cloud Storage only
        raise invalid_field(field_name, f"{uri[:200]!r} must be a gs:// URI")
    path = config.outside_work_bucket(config.readable_file(uri, field_name), uri, field_name)
    suffix = Path(uri).suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise invalid_field(field_name, f"{uri!r}: import files end in .csv or .jsonl")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise invalid_field(field_name, f"{uri!r} is not UTF-8 text ({error.reason})") from error
    records = _csv_records(text) if suffix == ".csv" else _jsonl_records(text)
    rows, lines = [], []
    for line, parse in records:
        try:
            converted = parse()
        except Refused as error:
            out.refuse(f"Error in {uri} line {line}: {error}")
            continue
        rows += converted
        lines += [line] * len(converted)
    local = config.resolve_uri(target, field_name)
    local.parent.mkdir(parents=True, exist_ok=True)
    out.uris.append(target)  # before writing: a half-written file is removed too
    with open(local, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    out.sources[target] = {"uri": uri, "lines": lines}
    out.rows += len(rows)


def _csv_records(text: str):
    for line, cells, problem in csv_lines(text):
        if problem:
            yield line, _refuse(problem)
        else:
            yield line, lambda cells=cells: [_csv_row(cells)]


def _refuse(reason: str):
    def parse():
        raise Refused(reason)

    return parse


def _csv_row(cells: list[str]) -> list[str]:
    ml_use = "UNASSIGNED"
    if not cells[0].startswith("gs://"):
        ml_use = _ml_use(cells[0])
        cells = cells[1:]
    if len(cells) == 1:
        cells = cells + [""] * 9
    if len(cells) != 10:
        raise Refused(
            f"expected [ML_USE,]GCS_FILE_PATH,LABEL,X_MIN,Y_MIN,,,X_MAX,Y_MAX,, (or 4 vertices), "
            f"found {len(cells)} columns after ML_USE"
        )
    _image_uri(cells[0], "GCS_FILE_PATH")
    return [ml_use, *cells]


def _ml_use(value: str) -> str:
    if value.lower() not in ML_USES:
        raise Refused(f"ML_USE {value!r} must be training, validation or test (or leave the column out)")
    return ML_USES[value.lower()]


def _image_uri(value, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("gs://"):
        raise Refused(f"the image must be a gs:// URI, not {value!r}")
    return _text(value, where)


def _text(value: str, where: str) -> str:
    """`value` for a cell of the converted CSV, which must stay one record per line (csv.writer would quote
    a line break across two); no image name, label or number holds a control character anyway."""
    if _CONTROL.search(value):
        raise Refused(f"{where} {value!r} holds a control character")
    return value


def _jsonl_records(text: str):
    # Lines end at "\n" only: str.splitlines() also splits at U+2028 and U+0085, which JSON strings may hold.
    for line, raw in enumerate(text.split("\n"), start=1):
        if raw.strip():
            yield line, lambda raw=raw: _jsonl_rows(raw)


def _jsonl_rows(raw: str) -> list[list[str]]:
    try:
        item = json.loads(raw)
    except ValueError as error:
        raise Refused(f"not JSON ({error})") from None
    if not isinstance(item, dict):
        raise Refused("each line must be a JSON object")
    _known(item, _LINE_KEYS, "")
    image = _image_uri(item.get("imageGcsUri"), "imageGcsUri")
    labels = item.get("dataItemResourceLabels") or {}
    if not isinstance(labels, dict):
        raise Refused("dataItemResourceLabels must be an object")
    _known(labels, {ML_USE_LABEL}, "dataItemResourceLabels: ")
    ml_use = _ml_use(str(labels[ML_USE_LABEL])) if ML_USE_LABEL in labels else "UNASSIGNED"
    annotations = item.get("boundingBoxAnnotations") or []
    if not isinstance(annotations, list):
        raise Refused("boundingBoxAnnotations must be a list")
    if not annotations:
        return [[ml_use, image] + [""] * 9]
    rows = []
    for number, box in enumerate(annotations):
        where = f"boundingBoxAnnotations[{number}]"
        if not isinstance(box, dict):
            raise Refused(f"{where} must be an object")
        _known(box, _ANNOTATION_KEYS, f"{where}: ")
        box_labels = box.get("annotationResourceLabels") or {}
        if not isinstance(box_labels, dict):
            raise Refused(f"{where}.annotationResourceLabels must be an object")
        _known(box_labels, {ANNOTATION_SET_LABEL}, f"{where}.annotationResourceLabels: ")
        corners = []
        for key in ("xMin", "yMin", "xMax", "yMax"):
            value = box.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float, str)) or value == "":
                raise Refused(f"{where}.{key} must be a number in 0-1, not {value!r}")
            corners.append(_text(value, f"{where}.{key}") if isinstance(value, str) else str(value))
        label = box.get("displayName")
        if not isinstance(label, str) or not label:
            raise Refused(f"{where}.displayName is required")
        _text(label, f"{where}.displayName")
        rows.append([ml_use, image, label, corners[0], corners[1], "", "", corners[2], corners[3], "", ""])
    return rows


def _known(values: dict, allowed: set[str], where: str) -> None:
    for key in values:
        if key not in allowed:
            raise Refused(
                f"{where}{key!r} is not stored by this service (allowed: {', '.join(sorted(allowed))})"
            )
