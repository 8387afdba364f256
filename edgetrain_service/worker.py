"""What a job does once the scheduler starts it. Trainings and exports run in a spawned process
(`process_main`), imports in a thread of the server; every outcome is written to the store, failures too.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import traceback
from pathlib import Path

from google.rpc import code_pb2

from . import names, operations
from .config import ServiceConfig
from .errors import ServiceError
from .job_payloads import ExportJob, JobPayload, TrainJob
from .store import Store

_LOGGER = logging.getLogger("edgetrain.service.worker")


def process_main(config: ServiceConfig, op_name: str, job: JobPayload) -> None:
    """Entry point of a spawned worker process."""
    # The machine is shared: keep each worker's math libraries to at most two threads.
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _exit_with_parent()
    run_job(Store(config.db_path), config, op_name, job)


def _exit_with_parent() -> None:
    """A worker must not outlive its server (e.g. after SIGKILL): the restarted server owns the job now."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_job(store: Store, config: ServiceConfig, op_name: str, job: JobPayload) -> None:
    kind = job.kind
    try:
        if isinstance(job, TrainJob):
            from .training import run_training

            run_training(store, config, op_name, job)
        elif isinstance(job, ExportJob):
            from .exporting import run_export

            run_export(store, config, op_name, job)
        else:
            from .importer import run_import

            run_import(store, config, op_name, job)
    except ServiceError as error:
        code = error.grpc_code.value[0]
        fail(store, op_name, code, error.message)
    except Exception as error:  # the operation must end; the traceback goes to the log
        _LOGGER.error("%s job %s failed:\n%s", kind, op_name, traceback.format_exc())
        fail(store, op_name, code_pb2.INTERNAL, f"{kind} failed: {type(error).__name__}: {error}")


def fail(store: Store, op_name: str, code: int, message: str, partial_failures=()) -> None:
    with store.tx() as db:
        operations.finish(db, op_name, error=(code, message), partial_failures=list(partial_failures))


def end_killed_after_cancel(store: Store, config: ServiceConfig, op_name: str, job: JobPayload) -> None:
    """The scheduler killed a cancelled job's worker that outlived the grace period: remove what the job had
    written, as its own cancel path does, and end the operation CANCELLED."""
    row = store.get_operation(op_name)
    if row is None or row["done"]:
        return  # it finished just before the kill (the worker is gone now, so this cannot change)
    if isinstance(job, TrainJob):  # the training's staging folders are inside the model's folder
        shutil.rmtree(config.model_dir(names.parse_name(job.model, "models").id), ignore_errors=True)
        outcome = "no model was created"
    elif isinstance(job, ExportJob):
        from edgetrain_trainer.export.staging import remove_with_partials

        remove_with_partials(Path(job.dest))
        outcome = "nothing was exported"
    else:
        outcome = "the dataset was not changed"
    fail(
        store,
        op_name,
        operations.CANCELLED,
        f"Operation cancelled by the caller; the {job.kind} did not stop within {config.cancel_grace_s:g} s, "
        f"so its worker process was killed and {outcome}.",
    )
