"""Deletes never pull data from under running work: DeleteDataset while a training is queued or running on it
and DeleteModel while an export copies it are FAILED_PRECONDITION naming the operation; once that operation
is done the delete goes through."""

from __future__ import annotations

import pytest
from google.api_core import exceptions

from edgetrain_service.process import ServiceProcess

from .conftest import (
    BUCKET,
    create_imported_dataset,
    finished,
    grpc_clients,
    start_training,
    write_cards_subset,
)


def test_dataset_with_a_pending_training_cannot_be_deleted_until_it_ends(tmp_path):
    with ServiceProcess(tmp_path / "svc", workers=0) as queue_only:  # the training stays queued
        client, _ = grpc_clients(queue_only.grpc_target)
        uri = write_cards_subset(queue_only.storage_root, "busy", {"TRAIN": 2, "TEST": 1})
        dataset = create_imported_dataset(client, "busy", uri)
        training = start_training(client, dataset, "reads_busy", "mobile-low-latency-1").operation.name
        with pytest.raises(exceptions.FailedPrecondition) as refused:
            client.delete_dataset(name=dataset.name)
        assert training in refused.value.message
        dataset_dir = queue_only.data_dir / "datasets" / dataset.name.rsplit("/", 1)[1]
        assert (dataset_dir / "annotations.csv").is_file()
        assert client.get_dataset(name=dataset.name).example_count == dataset.example_count
        client.transport.operations_client.cancel_operation(training)
        client.delete_dataset(name=dataset.name).result(timeout=30)
        assert not dataset_dir.exists()


def test_model_being_exported_cannot_be_deleted(client, trainings):
    model = trainings.low_latency.name
    export = client.export_model(
        name=model,
        output_config={
            "model_format": "tf_saved_model",
            "gcs_destination": {"output_uri_prefix": f"gs://{BUCKET}/busy-export/"},
        },
    )
    with pytest.raises(exceptions.FailedPrecondition) as refused:
        client.delete_model(name=model)
    assert export.operation.name in refused.value.message
    done = finished(client, export.operation.name, 300)
    assert not done.HasField("error"), done.error
    assert client.get_model(name=model).name == model
