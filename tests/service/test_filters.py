"""AutoML's ListOperations filter syntax → SQL, and the resource-name rules."""

from __future__ import annotations

import datetime as dt

import pytest

from edgetrain_service.errors import InvalidArgument
from edgetrain_service.filters import compile_operation_filter
from edgetrain_service.models import export_dir_name
from edgetrain_service.names import parse_name, validate_display_name

P = "projects/p/locations/us-central1"


@pytest.mark.parametrize(
    "text, sql, params",
    [
        ("", "1", []),
        ("done=true", "done = ?", [1]),
        ('"done = false"', "done = ?", [0]),
        ("done!=true", "done != ?", [1]),
        (f"worksOn={P}/models/*", "works_on GLOB ?", [f"{P}/models/*"]),
        (f"worksOn!={P}/models/*", "NOT works_on GLOB ?", [f"{P}/models/*"]),
        (f'worksOn="{P}/datasets/IOD1"', "works_on = ?", [f"{P}/datasets/IOD1"]),
        ("operation_id=IOD7 AND done=false", "op_id = ? AND done = ?", ["IOD7", 0]),
        ("done=true and operation_id!=IOD7", "done = ? AND op_id != ?", [1, "IOD7"]),
    ],
)
def test_filters_compile_to_parameterized_sql(text, sql, params):
    assert compile_operation_filter(text) == (sql, params)


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour=blue", "unknown key 'colour'"),
        ("done=maybe", "done must be true or false"),
        ("done", "cannot parse"),
        ("done=true; DROP TABLE operations", "done must be true or false"),
    ],
)
def test_bad_filters_are_invalid_argument(text, message):
    with pytest.raises(InvalidArgument, match=message):
        compile_operation_filter(text)


def test_names_parse_and_reject_other_collections():
    name = parse_name(f"{P}/models/IOD1/modelEvaluations/42", "models", sub_collection="modelEvaluations")
    assert (name.parent, name.id, name.sub_id, name.resource) == (P, "IOD1", "42", f"{P}/models/IOD1")
    with pytest.raises(InvalidArgument, match="name"):
        parse_name(f"{P}/datasets/IOD1", "models")
    with pytest.raises(InvalidArgument, match="name"):
        parse_name(f"{P}/models/../IOD1", "models")


@pytest.mark.parametrize("value", ["cards", "Cards_v2", "a" * 32])
def test_automl_display_names_are_accepted(value):
    assert validate_display_name(value) == value


def test_export_folder_follows_automl_naming():
    when = dt.datetime(2026, 11, 28, 15, 7, 48, 123456, tzinfo=dt.UTC)
    assert (
        export_dir_name("tflite", "cards", when) == "model-export/iod/tflite-cards-2026-11-28T15:07:48.123Z"
    )
