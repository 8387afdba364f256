"""AutoML's filters (ListOperations → SQL; ListModels, ListModelEvaluations), also through the real service,
and the resource-name rules."""

from __future__ import annotations

import datetime as dt

import pytest
from google.api_core import exceptions

from edgetrain_service.errors import InvalidArgument
from edgetrain_service.filters import MAX_FILTER_CHARS, compile_operation_filter
from edgetrain_service.models import export_dir_name
from edgetrain_service.names import parse_name, validate_display_name

from .conftest import PARENT

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


def test_an_operations_filter_past_the_length_cap_is_refused_and_one_just_under_it_is_answered(client):
    operations = client.transport.operations_client
    term = "done=true"
    under = term + " " * (MAX_FILTER_CHARS - 2 * len(term) - len(" AND ")) + " AND " + term
    assert len(under) == MAX_FILTER_CHARS
    list(operations.list_operations(PARENT, filter_=under))
    over = term + " " * 10_000 + " AND " + term  # a long whitespace run once took time quadratic in it
    with pytest.raises(
        exceptions.InvalidArgument, match=f"filter: .*at most {MAX_FILTER_CHARS:,} characters"
    ):
        list(operations.list_operations(PARENT, filter_=over))


@pytest.mark.parametrize(
    "text",
    [
        "dataset_id=IODA AND dataset_id=IODB",
        "dataset_id!=IODA AND dataset_id!=IODB",
        "dataset_id=IODA OR dataset_id=IODB",
        "dataset_id=IODA IODB",
        "dataset_id=",
    ],
)
def test_model_filters_the_service_cannot_apply_are_refused_naming_the_filter(client, text):
    with pytest.raises(exceptions.InvalidArgument, match="filter: "):
        list(client.list_models(request={"parent": PARENT, "filter": text}))


@pytest.mark.parametrize(
    "text", ["dataset_id=IOD404", 'datasetId != "IOD404"', "image_object_detection_model_metadata : *"]
)
def test_model_filters_the_service_applies_are_answered(client, text):
    list(client.list_models(request={"parent": PARENT, "filter": text}))


@pytest.mark.parametrize(
    "text", ["annotation_spec_id=5 AND x=1", "annotation_spec_id=5 OR annotation_spec_id=6"]
)
def test_evaluation_filters_the_service_cannot_apply_are_refused_naming_the_filter(client, text):
    # the filter is checked before the model is looked up, as every argument is
    with pytest.raises(exceptions.InvalidArgument, match="filter: "):
        list(client.list_model_evaluations(parent=f"{PARENT}/models/IOD404", filter=text))


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
