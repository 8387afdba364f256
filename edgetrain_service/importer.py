"""The ImportData job: validate AutoML CSVs row by row (the trainer's rules), copy the images into the data
dir by content, and add them to the dataset by the rules of dataset_rows (an image is its content, keeps the
split it first came with, and takes the box list of the latest import that carries it). Bad rows, and rows
whose image keeps another split than they ask for, become the operation's partial failures, as AutoML
reports them.

Each import's rows are kept in `imports/<sequence>-<operation>.csv`, the sequence being commit order, and
`annotations.csv` (what a training copies) is rebuilt from the committed ones under the dataset lock
(import_store.py). Atomic from the caller's view: the CSV moves into place inside the transaction that records
the import, and an import whose transaction fails leaves neither its file nor its rows in the CSV.
Idempotent: a re-run after a crash rewrites its own file in the place it had.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from google.rpc import code_pb2

from . import dataset_rows, import_store, names, operations
from .config import WORK_BUCKET, ServiceConfig
from .dataset_lock import dataset_lock
from .datasets import KIND, SPEC_KIND, annotation_specs, get_dataset
from .errors import InvalidArgument, ServiceError, shorten
from .image_limits import file_pixel_problem
from .job_payloads import ImportJob
from .protos import AnnotationSpec, Dataset, Empty, Status
from .store import Store

INVALID_ARGUMENT = code_pb2.INVALID_ARGUMENT
FAILED_PRECONDITION = code_pb2.FAILED_PRECONDITION

_LOGGER = logging.getLogger("edgetrain.service.importer")
MAX_PARTIAL_FAILURES = 1000
MAX_FAILURE_BYTES = 500


def _copy_image(source: Path, images_dir: Path) -> Path:
    """Content-addressed copy: the same picture imported again, under any name or extension, is the copy
    made the first time, and names cannot collide."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:32]
    for existing in images_dir.glob(f"{digest}.*"):
        if existing.suffix != ".tmp":
            return existing
    target = images_dir / f"{digest}{source.suffix.lower()}"
    tmp = images_dir / f"{digest}.{threading.get_ident()}.tmp"  # two imports may copy the same picture
    shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


def remove_copies(config: ServiceConfig, uris: list[str]) -> None:
    """Delete import files the service wrote for itself (ImportJob.remove_when_done), and each one's folder
    once empty. Called when their operation is done: a file that will not go is logged, not raised."""
    for uri in uris:
        try:
            path = config.resolve_uri(uri, "uris")
            path.unlink(missing_ok=True)
            if path.parent.is_dir() and not any(path.parent.iterdir()):
                path.parent.rmdir()
        except (OSError, ServiceError) as error:
            _LOGGER.warning("could not remove the import copy %s: %s", uri, error)


def remove_unclaimed_copies(config: ServiceConfig, claimed: set[str]) -> list[str]:
    """Delete the files in WORK_BUCKET that are not in `claimed` (the URIs the import jobs still to run will
    read), and the folders left empty; the URIs of the deleted files. Those are the copies of a job row this
    version cannot read, or of a request the server was killed in the middle of (its copies are written
    before its job). Only at start-up, before the server takes requests."""
    root = config.storage_root / WORK_BUCKET
    removed = []
    for path in sorted(root.rglob("*"), reverse=True):  # a folder's files before the folder
        uri = "gs://" + path.relative_to(config.storage_root).as_posix()
        try:
            if path.is_dir():
                if not any(path.iterdir()):
                    path.rmdir()
            elif uri not in claimed:
                path.unlink()
                removed.append(uri)
        except OSError as error:
            _LOGGER.warning("could not remove the import copy %s: %s", uri, error)
    return removed


def drop_uncommitted(store: Store, config: ServiceConfig, op_name: str, job: ImportJob) -> None:
    """For an import that recovery ended in error: its stored rows go, and the training CSV is rebuilt from
    the committed imports (the server may have died after the CSV moved and before the COMMIT)."""
    dataset_id = names.parse_name(job.dataset, "datasets").id
    op_id = names.parse_name(op_name, "operations").id
    root = config.dataset_dir(dataset_id)
    with dataset_lock(root):
        import_store.drop(store, names.location_of(job.dataset), root, op_id)


def _validate(config: ServiceConfig, csv_paths: list[Path]):
    """Validate the CSVs as the trainer does; every image a row names must pass `config.readable_file`
    (relative names against their CSV's folder), else the row fails with the same reason whether the image
    is missing or forbidden. Returns (examples, the (CSV path, line) of each example's accepted rows keyed by
    its absolute image path, row errors, row count)."""
    from edgetrain_trainer.data.csv_reader import read_csv
    from edgetrain_trainer.data.dataset import assemble

    rows, errors, row_count = [], [], 0
    for csv_path in csv_paths:

        def resolve(ref: str, folder: Path = csv_path.parent) -> Path:
            try:
                path = config.readable_file(ref, "image", base_dir=folder)
            except ServiceError:
                raise ValueError(config.not_readable) from None
            problem = file_pixel_problem(path)  # before the trainer's check decodes it in this process
            if problem:
                raise ValueError(problem)
            return path

        found, refused, count = read_csv(csv_path, resolve)
        rows += found
        errors += refused
        row_count += count
    # by_content=False: run_import merges pictures by content itself, where an earlier import's split wins.
    dataset = assemble(csv_paths, rows, errors, by_content=False)
    rejected = {(error.source, error.line) for error in dataset.errors}
    places: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        if (row.source, row.line) not in rejected:
            places.setdefault(os.path.abspath(row.image_path), []).append((row.source, row.line))
    return dataset.examples, places, dataset.errors, row_count


def run_import(store: Store, config: ServiceConfig, op_name: str, job: ImportJob) -> None:
    from edgetrain_trainer.data.dataset import UNASSIGNED, assign_split
    from edgetrain_trainer.errors import DatasetError

    dataset_name = job.dataset
    get_dataset(store, dataset_name)  # NOT_FOUND if it was deleted while queued
    field = "input_config.gcs_source.input_uris"
    by_path = {str(config.readable_file(uri, field)): uri for uri in job.uris}
    try:
        examples, places, errors, row_count = _validate(config, [Path(p) for p in by_path])
    except DatasetError as error:
        raise InvalidArgument(f"Cannot read the import file: {_as_given(str(error), by_path)}") from error
    reports = [
        (by_path.get(e.source, e.source), e.line, INVALID_ARGUMENT, _as_given(e.reason, by_path))
        for e in errors
    ]
    if not examples:
        if row_count:
            message = f"No valid rows to import: all {row_count} rows were rejected (see partial failures)."
        else:
            message = f"No rows to import: {', '.join(job.uris)} holds no annotation rows."
        with store.tx() as db:
            operations.finish(
                db, op_name, error=(INVALID_ARGUMENT, message), partial_failures=_statuses(reports)
            )
        return

    dataset_id = names.parse_name(dataset_name, "datasets").id
    root = config.dataset_dir(dataset_id)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "imports").mkdir(exist_ok=True)
    images: list[dataset_rows.Image] = []
    asked: list[dataset_rows.RowSplit] = []
    for number, example in enumerate(examples):
        if number % 20 == 0:
            if operations.cancel_requested(store, op_name):
                with store.tx() as db:
                    operations.finish(
                        db, op_name, error=(operations.CANCELLED, "Import cancelled by the caller.")
                    )
                return
            with store.tx() as db:
                operations.progress(db, op_name, 100 * number // len(examples))
        local = str(_copy_image(example.image_path, root / "images"))
        key = dataset_rows.image_key(local)
        # UNASSIGNED is resolved by content, so the same picture under any path gets the same split.
        explicit = example.ml_use != UNASSIGNED
        split = example.split if explicit else assign_split(UNASSIGNED, key)
        images.append(dataset_rows.Image(key, local, split, tuple(_cells(box) for box in example.boxes)))
        asked += [
            dataset_rows.RowSplit(key, split, explicit, source, line)
            for source, line in places.get(os.path.abspath(example.image_path), [])
        ]
    imported = dataset_rows.merge(images)
    op_id = names.parse_name(op_name, "operations").id
    location = names.location_of(dataset_name)
    with dataset_lock(root):
        own = import_store.own_file(root / "imports", op_id)
        import_store.write_atomic(own, import_store.rows_csv(dataset_rows.training_rows(imported)))
        files = [
            f
            for f in import_store.import_files(root / "imports")
            if f == own or import_store.committed(store, location, f)
        ]
        before = dataset_rows.rebuild(import_store.read_imports(files[: files.index(own)]))
        reports += [
            (
                by_path.get(row.source, row.source),
                row.line,
                FAILED_PRECONDITION,
                f"image already in {kept}; kept there",
            )
            for row, kept in dataset_rows.kept_split_rows(before, imported, asked)
        ]
        dataset = dataset_rows.rebuild(import_store.read_imports(files))
        staged = import_store.StagedAnnotations(root, dataset)
        recorded = False
        try:
            recorded = _commit(store, op_name, dataset_name, dataset, _statuses(reports), staged.publish)
        finally:
            if not recorded:  # neither the database nor the CSV keeps this import's rows
                own.unlink(missing_ok=True)
                staged.withdraw([f for f in files if f != own])


def _as_given(text: str, by_path: dict[str, str]) -> str:
    """`text` naming each import file by the URI the caller gave, never by its path under the storage root
    (a reason may cite another row's file: "… at FILE:LINE")."""
    for path, uri in by_path.items():  # the whole path only: not the start of a longer name beside it
        text = re.sub(re.escape(path) + r"(?![\w./-])", uri.replace("\\", "\\\\"), text)
    return text


def _cells(box) -> dataset_rows.Cells:
    return (
        box.label,
        f"{box.xmin:.6f}",
        f"{box.ymin:.6f}",
        "",
        "",
        f"{box.xmax:.6f}",
        f"{box.ymax:.6f}",
        "",
        "",
    )


def _statuses(reports: list[tuple[str, int, int, str]]) -> list[Status]:
    """Partial failures in file and line order, as AutoML words them; each short enough that a thousand of
    them leave the operation readable (a row's reason may repeat a cell of any length)."""
    return [
        Status(code=code, message=shorten(f"Error in {uri} line {line}: {reason}", MAX_FAILURE_BYTES))
        for uri, line, code, reason in sorted(reports, key=lambda r: (r[0], r[1]))[:MAX_PARTIAL_FAILURES]
    ]


def _commit(
    store: Store,
    op_name: str,
    dataset_name: str,
    images: dict[str, dataset_rows.Image],
    failures: list[Status],
    publish: Callable[[], None],
) -> bool:
    """Record the dataset's example count and each label's image count, and end the operation, in one
    transaction; `publish` (the training CSV into place) runs last inside it, so a failed COMMIT undoes
    both. A label no image carries any more (a replacement removed its boxes) keeps its spec, at 0.
    False when the dataset was deleted meanwhile (the operation ends NOT_FOUND, nothing is recorded)."""
    counts = dataset_rows.label_image_counts(images)
    specs = annotation_specs(store, dataset_name)
    with store.tx() as db:
        blob = db.execute(
            "SELECT proto FROM resources WHERE name=? AND kind=?", (dataset_name, KIND)
        ).fetchone()
        if blob is None:
            operations.finish(
                db,
                op_name,
                error=(code_pb2.NOT_FOUND, f"Dataset {dataset_name} was deleted during the import."),
            )
            return False
        dataset = Dataset.FromString(blob["proto"])
        dataset.example_count = len(images)
        Store.put_resource(
            db, dataset_name, KIND, names.location_of(dataset_name), dataset.SerializeToString()
        )
        for label in sorted(set(counts) | set(specs)):
            spec = specs.get(label) or AnnotationSpec(
                name=f"{dataset_name}/annotationSpecs/{names.new_numeric_id()}", display_name=label
            )
            spec.example_count = counts[label]
            Store.put_resource(db, spec.name, SPEC_KIND, dataset_name, spec.SerializeToString(), label=label)
        operations.finish(db, op_name, response=Empty(), partial_failures=failures)
        publish()
    return True
