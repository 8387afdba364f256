"""What each kind of job needs to run, as the use cases queue it and the workers read it back.

A payload is stored in the jobs table as JSON (its fields by name, so rows written by earlier versions still
load) and handed to a worker process as the dataclass itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar

COMPARE_TO_LABEL = "edgetrain-compare-to"  # the CreateModel label that sets TrainJob.compare_to
BASE_MODEL_LABEL = "edgetrain-base-model"  # the CreateModel label that sets TrainJob.base_model


@dataclass(frozen=True)
class ImportJob:
    """ImportData: add the rows of the CSVs `uris` (as the caller gave them) to `dataset`."""

    kind: ClassVar[str] = "import"
    dataset: str
    uris: list[str]
    # The uris are this service's own copies (Vertex's import files converted to AutoML CSVs): removed once
    # the operation is done, kept while it may still run (again).
    remove_when_done: bool = False


@dataclass(frozen=True)
class TrainJob:
    """CreateModel: train `model` on a snapshot of `dataset`; the rest becomes the Model resource."""

    kind: ClassVar[str] = "train"
    model: str
    dataset: str
    display_name: str
    model_type: str
    budget: int  # milli node hours
    create_time: str  # RFC 3339, the Model's create_time
    labels: dict[str, str] = field(default_factory=dict)  # the caller's, kept on the trained model
    overrides: dict = field(default_factory=dict)  # this training's trainer settings over the server's
    compare_to: str = ""  # a model to evaluate on this training's TEST images too (comparison.py)
    base_model: str = ""  # the full name of a model of this server to warm-start from (models.base_model)


@dataclass(frozen=True)
class ExportJob:
    """ExportModel: write `model` in `format` into the folder `dest` (under the storage root)."""

    kind: ClassVar[str] = "export"
    model: str
    format: str
    dest: str


JobPayload = ImportJob | TrainJob | ExportJob
_BY_KIND: dict[str, type] = {cls.kind: cls for cls in (ImportJob, TrainJob, ExportJob)}


def encode(job: JobPayload) -> str:
    return json.dumps(asdict(job))


def decode(kind: str, text: str) -> JobPayload:
    """The payload of a jobs row; ValueError for a kind or a row this version cannot read."""
    cls = _BY_KIND.get(kind)
    if cls is None:
        raise ValueError(f"unknown job kind {kind!r}")
    stored = json.loads(text)
    known = {f.name for f in fields(cls)}
    try:
        return cls(**{key: value for key, value in stored.items() if key in known})
    except TypeError as error:  # a field missing
        raise ValueError(f"{kind} job payload {text[:200]!r} is incomplete: {error}") from None
