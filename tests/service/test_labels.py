"""Resource labels follow Google's rules on both surfaces, so what works here works on AutoML and Vertex AI:
at most 64; keys 1–63 lower-case letters, digits, `_`, `-` starting with a letter; values up to 63 of them."""

from __future__ import annotations

import pytest
from google.api_core import exceptions

from edgetrain_service.resource_labels import MAX_CREATE_MODEL_LABELS, MAX_LABELS

from .conftest import PARENT

BAD_LABELS = [
    {"Team": "vision"},
    {"1team": "vision"},
    {"": "vision"},
    {"k" * 64: "vision"},
    {"team": "Vision"},
    {"team": "two words"},
    {"team": "v" * 64},
    {"team": "a/b"},
    {f"label-{n}": "x" for n in range(MAX_LABELS + 1)},
]


def _dataset(labels: dict) -> dict:
    return {"display_name": "labelled", "image_object_detection_dataset_metadata": {}, "labels": labels}


@pytest.mark.parametrize("labels", BAD_LABELS, ids=range(len(BAD_LABELS)))
def test_dataset_labels_google_would_refuse_are_invalid_argument(client, labels):
    with pytest.raises(exceptions.InvalidArgument, match="dataset.labels"):
        client.create_dataset(parent=PARENT, dataset=_dataset(labels))


def test_labels_google_accepts_are_kept_and_bad_ones_change_nothing(client):
    good = {"team": "", "équipe": "vision-2", "チーム": "ビジョン", "k" * 63: "v" * 63}
    created = client.create_dataset(parent=PARENT, dataset=_dataset(good)).result(timeout=30)
    assert dict(created.labels) == good
    full = {f"label-{n}": "x" for n in range(MAX_LABELS)}
    with pytest.raises(exceptions.InvalidArgument, match="'Team'"):
        client.update_dataset(
            dataset={"name": created.name, "labels": {"Team": "x"}}, update_mask={"paths": ["labels"]}
        )
    assert dict(client.get_dataset(name=created.name).labels) == good
    updated = client.update_dataset(
        dataset={"name": created.name, "labels": full}, update_mask={"paths": ["labels"]}
    )
    assert dict(updated.labels) == full


def _model(labels: dict) -> dict:
    return {
        "display_name": "labelled",
        "dataset_id": "IOD1000000000000000000",  # none: a training must not start if the labels pass
        "labels": labels,
        "image_object_detection_model_metadata": {"model_type": "mobile-low-latency-1"},
    }


def test_create_model_leaves_room_for_the_labels_the_training_adds(client):
    too_many = {f"label-{n}": "x" for n in range(MAX_CREATE_MODEL_LABELS + 1)}
    with pytest.raises(
        exceptions.InvalidArgument, match=f"model.labels: has {len(too_many)} labels; at most 60"
    ):
        client.create_model(parent=PARENT, model=_model(too_many))
    enough = {f"label-{n}": "x" for n in range(MAX_CREATE_MODEL_LABELS)}
    with pytest.raises(exceptions.NotFound, match="IOD1000000000000000000"):  # past the labels
        client.create_model(parent=PARENT, model=_model(enough))


def test_the_base_model_label_may_hold_a_full_model_name(client):
    base = {"edgetrain-base-model": f"{PARENT}/models/IOD2000000000000000000"}
    with pytest.raises(exceptions.NotFound, match="IOD1000000000000000000"):  # the labels passed
        client.create_model(parent=PARENT, model=_model(base))
