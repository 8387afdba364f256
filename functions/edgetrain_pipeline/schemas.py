"""Versioned Pub/Sub message schemas (pydantic, strict: unknown fields are errors, not silently dropped, and a
message's JSON types are taken as they are: "5000" is not a budget, true is not schemaVersion 1).

Every message carries "schemaVersion"; a consumer accepts the versions it lists and rejects the rest with a
reason that names the field. Field names are camelCase on the wire, as in the AutoML REST API.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .config import MAX_BUDGET_MILLI_NODE_HOURS, MIN_BUDGET_MILLI_NODE_HOURS, MODEL_TYPES
from .document_ids import document_id_problem
from .resource_names import resource_id

# Each is matched against the whole value (fullmatch: "$" would let a trailing newline through).
_DATASET_NAME = re.compile(r"(projects/[^/]+/locations/[^/]+/datasets/)?[A-Za-z0-9_-]{1,128}")
_DISPLAY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")  # AutoML's model display-name rule
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_GCS_URI = re.compile(r"gs://([a-z0-9._-]{1,222})/(.+)", re.DOTALL)  # the bucket: its characters, up to 222
_MAX_OBJECT_NAME_BYTES = 1024  # Cloud Storage's limit
# A training budget in milli node hours, in AutoML's range for mobile models (messages and dataset policies).
Budget = Annotated[int, Field(ge=MIN_BUDGET_MILLI_NODE_HOURS, le=MAX_BUDGET_MILLI_NODE_HOURS)]
TriggerSource = Literal["upstream", "import", "manual", "coalesced"]
TerminalState = Literal["SUCCEEDED", "FAILED", "CANCELLED"]
NotificationType = Literal["MODEL_EXPORTED", "MODEL_REJECTED", "TRAINING_FAILED", "TRAINING_CANCELLED"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    def to_wire(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Incoming(_Message):
    """A message a consumer reads off the wire."""

    model_config = ConfigDict(strict=True)

    schema_version: Literal[1] = Field(alias="schemaVersion")

    @field_validator("schema_version", mode="before")
    @classmethod
    def _an_integer(cls, value: object) -> object:
        if type(value) is not int:  # Literal[1] takes true and 1.0, even in strict mode
            raise ValueError(f"must be the integer 1, not {value!r}")
        return value


def _check_dataset(value: str) -> str:
    if not _DATASET_NAME.fullmatch(value):
        raise ValueError("must be a dataset ID or projects/P/locations/L/datasets/ID")
    if problem := document_id_problem(resource_id(value)):
        raise ValueError(f"the dataset ID {problem}")
    return value


def _check_model_type(value: str | None) -> str | None:
    if value is not None and value not in MODEL_TYPES:
        raise ValueError(f"{value!r} is not an edge object-detection model type ({', '.join(MODEL_TYPES)})")
    return value


def _import_uri_problem(uri: str) -> str | None:
    """Why `uri` names no import file: a gs://BUCKET/OBJECT, or for a self-hosted service (the local stack) a
    local file by absolute path or file:// URI, which the service confines to the folders it may read."""
    if any(unicodedata.category(c) == "Cc" for c in uri):
        return "holds a control character"
    if uri.startswith(("/", "file://")):
        return None
    match = _GCS_URI.fullmatch(uri)
    if match is None:
        return "is not a gs://BUCKET/OBJECT URI (nor, for a self-hosted service, a file's absolute path)"
    if len(match.group(2).encode("utf-8")) > _MAX_OBJECT_NAME_BYTES:
        return f"names an object over {_MAX_OBJECT_NAME_BYTES:,} bytes, Cloud Storage's limit"
    return None


class TrainingRequest(_Incoming):
    """start_training's input: a dataset import finished (or a person asked for a training)."""

    dataset: str
    model_type: str | None = Field(default=None, alias="modelType")
    train_budget_milli_node_hours: Budget | None = Field(default=None, alias="trainBudgetMilliNodeHours")
    display_name: str | None = Field(default=None, alias="displayName")
    request_id: str | None = Field(default=None, alias="requestId")
    source: TriggerSource = "upstream"

    _dataset = field_validator("dataset")(_check_dataset)

    _model_type = field_validator("model_type")(_check_model_type)

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        if value is not None and not _DISPLAY_NAME.fullmatch(value):
            raise ValueError("up to 32 ASCII letters, digits or underscores, starting with a letter")
        return value

    @field_validator("request_id")
    @classmethod
    def _request_id(cls, value: str | None) -> str | None:
        if value is not None and not _REQUEST_ID.fullmatch(value):
            raise ValueError("1-128 characters from A-Z a-z 0-9 _ . : -")
        return value


class ImportRequest(_Incoming):
    """import_dataset's input: new labeled data arrived as import files (AutoML v1: CSV; Vertex AI: its
    bounding-box CSV or JSONL); a backend refuses a form it cannot read and the import is recorded FAILED."""

    dataset: str
    input_uris: list[str] = Field(alias="inputUris", min_length=1, max_length=100)
    request_id: str | None = Field(default=None, alias="requestId")

    _dataset = field_validator("dataset")(_check_dataset)

    @field_validator("input_uris")
    @classmethod
    def _import_files(cls, value: list[str]) -> list[str]:
        for uri in value:
            if not uri.lower().endswith((".csv", ".jsonl")):
                raise ValueError(f"{uri!r} is not a CSV or JSONL file")
            if problem := _import_uri_problem(uri):
                raise ValueError(f"{uri!r} {problem}")
        return value

    @field_validator("request_id")
    @classmethod
    def _request_id(cls, value: str | None) -> str | None:
        return TrainingRequest._request_id(value)


class TrainingFinished(_Incoming):
    """Published by the poller once per training when its CreateModel operation ends."""

    training_id: str = Field(alias="trainingId", pattern=r"^[A-Za-z0-9_-]{1,64}$")  # a Firestore document ID
    dataset: str
    state: TerminalState
    model: str | None = None

    @field_validator("training_id")
    @classmethod
    def _training_id(cls, value: str) -> str:
        if problem := document_id_problem(value):
            raise ValueError(f"the training ID {problem}")
        return value


class DatasetPolicy(_Message):
    """An operator's overrides in datasets/{id}.policy (not a message, but held to the same rules: a misspelt
    key or a budget written as text is refused, not silently ignored)."""

    model_config = ConfigDict(strict=True, populate_by_name=False)  # the camelCase keys only

    model_type: str | None = Field(default=None, alias="modelType")
    train_budget_milli_node_hours: Budget | None = Field(default=None, alias="trainBudgetMilliNodeHours")
    min_new_examples: int | None = Field(default=None, alias="minNewExamples", ge=0)

    _model_type = field_validator("model_type")(_check_model_type)


class LabelComparison(_Message):
    """One label's AP@0.5 for the challenger and the champion on the same TEST images (promotion.py)."""

    label: str
    challenger_ap50: float | None = Field(default=None, alias="challengerAp50")
    champion_ap50: float | None = Field(default=None, alias="championAp50")  # None: the champion never saw it
    drop: float | None = None


class Notification(_Message):
    """What subscribers of the notifications topic receive, once per training (notificationId dedupes)."""

    schema_version: Literal[1] = Field(default=1, alias="schemaVersion")
    notification_id: str = Field(alias="notificationId")
    type: NotificationType
    dataset: str
    training_id: str = Field(alias="trainingId")
    model: str | None = None
    model_type: str | None = Field(default=None, alias="modelType")
    display_name: str | None = Field(default=None, alias="displayName")
    export_location: str | None = Field(default=None, alias="exportLocation")
    export_locations: dict[str, str] = Field(default_factory=dict, alias="exportLocations")
    metrics: dict[str, float] = Field(default_factory=dict)
    train_cost_milli_node_hours: int | None = Field(default=None, alias="trainCostMilliNodeHours")
    train_budget_milli_node_hours: int | None = Field(default=None, alias="trainBudgetMilliNodeHours")
    stop_reason: str | None = Field(default=None, alias="stopReason")
    promoted: bool = False
    reason: str | None = None
    decided_by: str | None = Field(default=None, alias="decidedBy")  # promotion.py: the rule that decided
    labels: list[LabelComparison] = Field(default_factory=list)
