"""Two trainings and an import at the same time (the `trainings` scenario, with --workers 2)."""

from __future__ import annotations

from .conftest import PARENT


def test_two_trainings_and_an_import_at_once(client, trainings):
    assert trainings.imported_dataset.example_count == 8
    models = {m.name for m in client.list_models(parent=PARENT)}
    assert {trainings.low_latency.name, trainings.versatile.name} <= models
    assert trainings.low_latency.name != trainings.versatile.name


def test_operation_progress_is_recorded_while_training(client, trainings):
    # Progress is written by the worker process into the shared store; a finished training reads 100.
    for name in trainings.operations:
        op = client.transport.operations_client.get_operation(name)
        assert op.done
        assert op.metadata.type_url.endswith("google.cloud.automl.v1.OperationMetadata")
