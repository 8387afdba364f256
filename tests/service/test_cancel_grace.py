"""A cancelled training that does not stop by itself (here its worker is frozen with SIGSTOP, so it can
neither see the cancel nor act on it) is killed once the grace period is over: its operation ends CANCELLED,
nothing it wrote is left, and the freed worker slot starts the next training."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from edgetrain_service.process import ServiceProcess

from .conftest import (
    PARENT,
    TINY_TRAINER,
    TRAIN_TIMEOUT_S,
    create_imported_dataset,
    finished,
    grpc_clients,
    start_training,
    wait_for_progress,
    write_cards_subset,
)

GRACE_S = 2


def worker_pids(server_pid: int) -> list[int]:
    """The server's multiprocessing workers (children started through multiprocessing's spawn_main)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
        if parent == server_pid and b"spawn_main" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


def test_a_training_that_ignores_its_cancel_is_killed_after_the_grace_period(tmp_path):
    data, storage = tmp_path / "data", tmp_path / "gcs"
    with ServiceProcess(
        data, storage_root=storage, trainer_overrides=TINY_TRAINER, workers=1, cancel_grace_s=GRACE_S
    ) as service:
        client = grpc_clients(service.grpc_target)[0]
        dataset = create_imported_dataset(client, "frozen", write_cards_subset(storage, "frozen"))
        op = start_training(client, dataset, "frozen_model", "mobile-low-latency-1").operation
        wait_for_progress(client, op.name, 1, 120, "the training to start")
        [pid] = worker_pids(service.process.pid)
        assert any((data / "models").iterdir())  # the training's folder
        os.kill(pid, signal.SIGSTOP)

        client.transport.operations_client.cancel_operation(op.name)
        outcome = finished(client, op.name, timeout_s=60)

        assert outcome.error.code == 1  # CANCELLED
        assert f"did not stop within {GRACE_S} s" in outcome.error.message
        assert "worker process was killed" in outcome.error.message
        assert not Path(f"/proc/{pid}").exists()  # killed and reaped
        assert not any((data / "models").iterdir())  # nothing half-written is left
        assert not list(client.list_models(parent=PARENT))

        # The one worker slot is free again: the next training starts running (then is cancelled, to save
        # the suite a whole training).
        after = start_training(client, dataset, "after_kill", "mobile-low-latency-1").operation
        wait_for_progress(client, after.name, 1, TRAIN_TIMEOUT_S, "the next training to start")
        client.transport.operations_client.cancel_operation(after.name)
        assert finished(client, after.name, timeout_s=60).error.code == 1
    assert f"killing worker pid {pid}" in service.log_path.read_text()
