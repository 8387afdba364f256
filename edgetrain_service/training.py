"""The CreateModel job (in a worker process): train on a snapshot of the dataset, then record the Model and
its evaluations and finish the operation, all in one transaction. Progress and cancellation go through the
store, throttled so a training does not hammer the database."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from google.protobuf import json_format
from google.rpc import code_pb2

from . import artifacts, comparison, names, operations
from .config import ServiceConfig
from .dataset_lock import dataset_lock
from .datasets import annotation_specs
from .errors import FailedPrecondition
from .import_store import ANNOTATIONS
from .job_payloads import TrainJob
from .models import EDGE_NODE_QPS, EVALUATION_KIND, KIND
from .protos import DeploymentState, Model, ModelEvaluation, Timestamp, now
from .store import Store
from .training_curve import TrainingCurve

_LOGGER = logging.getLogger("edgetrain.service.training")
INVALID_ARGUMENT, FAILED_PRECONDITION = code_pb2.INVALID_ARGUMENT, code_pb2.FAILED_PRECONDITION
PROGRESS_INTERVAL_S = 1.0
CANCEL_CHECK_INTERVAL_S = 1.0


class _Throttled:
    """Progress writes and cancel checks at most once per interval."""

    def __init__(self, store: Store, op_name: str, curve: TrainingCurve | None = None):
        self.store, self.op_name, self.curve = store, op_name, curve
        self._last_write = self._last_check = 0.0
        self._cancelled = False
        self._last_message = ""

    def progress(self, report) -> None:
        if self.curve is not None:
            try:
                self.curve.record(report)
            except OSError as error:  # the curve is for people watching; the training goes on without it
                _LOGGER.warning("%s: could not write the training curve: %s", self.op_name, error)
        if report.message and report.message != self._last_message:
            self._last_message = report.message
            _LOGGER.info(
                "%s %.0f%% %s: %s",
                self.op_name.rsplit("/", 1)[1],
                report.percent,
                report.phase,
                report.message,
            )
        if time.monotonic() - self._last_write >= PROGRESS_INTERVAL_S:
            self._last_write = time.monotonic()
            with self.store.tx() as db:
                operations.progress(db, self.op_name, int(report.percent))

    def cancelled(self) -> bool:
        if not self._cancelled and time.monotonic() - self._last_check >= CANCEL_CHECK_INTERVAL_S:
            self._last_check = time.monotonic()
            self._cancelled = operations.cancel_requested(self.store, self.op_name)
        return self._cancelled


def run_training(store: Store, config: ServiceConfig, op_name: str, job: TrainJob) -> None:
    from edgetrain_trainer.errors import DatasetError, InvalidArgumentError, TrainingCancelled
    from edgetrain_trainer.train import train
    from edgetrain_trainer.types import TrainRequest

    row = store.get_operation(op_name)
    if row is None or row["done"]:
        return  # cancelled while queued, or finished already (only a finished operation can be deleted)
    model_id = names.parse_name(job.model, "models").id
    dataset_id = names.parse_name(job.dataset, "datasets").id
    model_dir = config.model_dir(model_id)
    shutil.rmtree(model_dir, ignore_errors=True)  # a restarted training starts again from a clean folder
    model_dir.mkdir(parents=True)
    if not snapshot_rows(config.dataset_dir(dataset_id), model_dir / "data.csv"):
        _fail(store, op_name, FAILED_PRECONDITION, f"Dataset {job.dataset} has no imported data.")
        return
    problem = _stage_base_model(store, config, job, model_dir / "base_model") if job.base_model else ""
    if problem:
        shutil.rmtree(model_dir, ignore_errors=True)
        _fail(store, op_name, FAILED_PRECONDITION, problem)
        return
    hooks = _Throttled(store, op_name, _curve(config, op_name, job))
    try:
        request = TrainRequest(
            data=model_dir / "data.csv",
            out_dir=artifacts.train_dir(config, model_id),
            model_type=job.model_type,
            budget_milli_node_hours=job.budget,
            overrides={**_thread_share(config.workers), **config.trainer_overrides, **job.overrides},
            init_from=model_dir / "base_model" if job.base_model else None,
        )
        result = train(request, progress=hooks.progress, cancel=hooks.cancelled)
    except TrainingCancelled:
        shutil.rmtree(model_dir, ignore_errors=True)
        _fail(
            store, op_name, operations.CANCELLED, "Operation cancelled by the caller; no model was created."
        )
        return
    except InvalidArgumentError as error:
        _fail(store, op_name, INVALID_ARGUMENT, f"Training request rejected: {error}")
        return
    except DatasetError as error:
        _fail(store, op_name, FAILED_PRECONDITION, f"Dataset cannot be trained on: {error}")
        return
    artifacts.write_result(config, model_id, result)
    champion = comparison.compared_model(job)
    images = comparison.evaluated_images(request, result) if champion else None
    compared = None
    if champion and images:
        compared = comparison.compare(store, config, champion, images, result.package_dir)
    _record(store, op_name, job, result, compared, comparison.model_labels(result, compared))


def snapshot_rows(dataset_dir: Path, dest: Path) -> bool:
    """Copy the dataset's committed rows to `dest` (later imports do not change this training's data);
    False when it has none. Under the dataset lock, the check too: a first import withdrawn after its CSV
    moved takes the CSV away again."""
    if not dataset_dir.is_dir():
        return False
    with dataset_lock(dataset_dir):
        source = dataset_dir / ANNOTATIONS
        if not source.is_file():
            return False
        shutil.copyfile(source, dest)
    return True


def _thread_share(workers: int) -> dict[str, int]:
    """With --workers N > 1, each training's automatic thread count is capped at the usable cores / N: TF
    sizes its pools once, so N trainings started together would each take the whole machine."""
    if workers <= 1:
        return {}
    from edgetrain_trainer.training.cpu import usable_cores

    return {"max_threads": max(1, usable_cores() // workers)}


def _stage_base_model(store: Store, config: ServiceConfig, job: TrainJob, dest: Path) -> str:
    """Copy the weights of the model the training warm-starts from into `dest`, so that deleting that model
    later cannot pull them from under the trainer. '' when done, else why the training cannot run."""
    from edgetrain_trainer.training.warm_start import MODEL_FILES

    again = "; no model was created. Train again from another model, or without edgetrain-base-model."
    if store.get_resource(job.base_model, KIND) is None:
        return f"Base model {job.base_model} was deleted after this training was queued{again}"
    try:
        source = Path(
            artifacts.read_result(config, names.parse_name(job.base_model, "models").id)["model_dir"]
        )
        dest.mkdir(parents=True)
        for name in MODEL_FILES:
            shutil.copyfile(source / name, dest / name)
    except (FailedPrecondition, OSError, KeyError) as error:
        return f"Base model {job.base_model} has no trained files on this server ({error}){again}"
    return ""


def _curve(config: ServiceConfig, op_name: str, job: TrainJob) -> TrainingCurve | None:
    if not config.progress_uri_prefix:
        return None
    prefix = config.progress_uri_prefix.rstrip("/")
    path = config.resolve_uri(f"{prefix}/{op_name.rsplit('/', 1)[-1]}.json", "progress")
    return TrainingCurve(path, op_name, job.budget)


def _fail(store: Store, op_name: str, code: int, message: str) -> None:
    with store.tx() as db:
        operations.finish(db, op_name, error=(code, message))


def _record(store: Store, op_name: str, job: TrainJob, result, compared, labels: dict[str, str]) -> None:
    created = Timestamp()
    created.FromJsonString(job.create_time)
    model = Model(
        name=job.model,
        display_name=job.display_name,
        create_time=created,
        update_time=now(),
        deployment_state=DeploymentState.DEPLOYED,
        etag="1",
        dataset_id=names.parse_name(job.dataset, "datasets").id,
    )
    model.labels.update({**job.labels, **labels})
    meta = model.image_object_detection_model_metadata
    meta.model_type = result.model_type
    meta.node_qps = EDGE_NODE_QPS
    meta.stop_reason = result.stop_reason.value
    meta.train_budget_milli_node_hours = job.budget
    meta.train_cost_milli_node_hours = min(result.train_cost_milli_node_hours, job.budget)
    specs = annotation_specs(store, job.dataset)
    entries = comparison.evaluation_entries(result.evaluation, specs)
    if compared is not None:
        entries += comparison.evaluation_entries(compared.evaluation, specs, compared.model)
    with store.tx() as db:
        Store.put_resource(db, model.name, KIND, names.location_of(model.name), model.SerializeToString())
        for spec_id, display_name, count, metrics in entries:
            item = ModelEvaluation(
                name=f"{model.name}/modelEvaluations/{names.new_numeric_id()}",
                annotation_spec_id=spec_id,
                display_name=display_name,
                create_time=now(),
                evaluated_example_count=int(count),
            )
            json_format.ParseDict(
                metrics, item.image_object_detection_evaluation_metrics, ignore_unknown_fields=True
            )
            Store.put_resource(db, item.name, EVALUATION_KIND, model.name, item.SerializeToString())
        operations.finish(db, op_name, response=model)
