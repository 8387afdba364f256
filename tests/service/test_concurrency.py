"""Two trainings and an import at the same time (the `trainings` scenario, with --workers 2)."""

from __future__ import annotations

import re

from edgetrain_trainer.training.cpu import usable_cores

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


def test_trainings_at_once_share_the_cores(service, trainings):
    # TF's pools are sized once, at the start: two trainings started together must not both take every core
    share = max(1, usable_cores() // 2)
    log = service.log_path.read_text(errors="replace")
    for name in trainings.operations:
        started = re.findall(rf"{name.rsplit('/', 1)[1]} \S+ data: loading .* \((\d+) threads\)", log)
        assert started, f"no training start of {name} in the service log"
        assert all(int(threads) <= share for threads in started), (started, share)
