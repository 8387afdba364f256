"""The ImportData job: validate AutoML CSVs row by row (the trainer's rules), copy the images into the data
dir, and add them to the dataset. Bad rows become the operation's partial failures, as AutoML reports them.

Idempotent: a re-run after a crash rewrites the same files, and the dataset changes in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import threading
from collections import Counter
from pathlib import Path

from google.rpc import code_pb2

from . import names, operations
from .config import ServiceConfig
from .datasets import KIND, SPEC_KIND, annotation_specs, get_dataset
from .errors import InvalidArgument, ServiceError
from .image_limits import file_pixel_problem
from .job_payloads import ImportJob
from .protos import AnnotationSpec, Dataset, Empty, Status
from .store import Store

INVALID_ARGUMENT = code_pb2.INVALID_ARGUMENT

MAX_PARTIAL_FAILURES = 1000
_DATASET_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _dataset_lock(name: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _DATASET_LOCKS.setdefault(name, threading.Lock())


def _copy_image(source: Path, images_dir: Path) -> Path:
    """Content-addressed copy: the same image imported twice is stored once, and names cannot collide."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:32]
    target = images_dir / f"{digest}{source.suffix.lower()}"
    if not target.exists():
        tmp = target.with_suffix(target.suffix + ".tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return target


def _rows_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _validate(config: ServiceConfig, csv_paths: list[Path]):
    """Validate the CSVs as the trainer does; every image a row names must pass `config.readable_file`
    (relative names against their CSV's folder), else the row fails with the same reason whether the image
    is missing or forbidden. Returns (examples, row errors, row count)."""
    from edgetrain_trainer.data.dataset import validate_import

    by_folder: dict[Path, list[Path]] = {}
    for path in csv_paths:
        by_folder.setdefault(path.parent, []).append(path)
    examples, errors, row_count = [], [], 0
    for folder, paths in by_folder.items():

        def resolve(ref: str, folder: Path = folder) -> Path:
            try:
                path = config.readable_file(ref, "image", base_dir=folder)
            except ServiceError:
                raise ValueError(config.not_readable) from None
            problem = file_pixel_problem(path)  # before the trainer's check decodes it in this process
            if problem:
                raise ValueError(problem)
            return path

        report = validate_import(paths, resolve=resolve)
        examples += report.dataset.examples
        errors += report.errors
        row_count += report.row_count
    return examples, errors, row_count


def run_import(store: Store, config: ServiceConfig, op_name: str, job: ImportJob) -> None:
    from edgetrain_trainer.errors import DatasetError

    dataset_name = job.dataset
    get_dataset(store, dataset_name)  # NOT_FOUND if it was deleted while queued
    field = "input_config.gcs_source.input_uris"
    by_path = {config.readable_file(uri, field): uri for uri in job.uris}
    try:
        examples, errors, row_count = _validate(config, list(by_path))
    except DatasetError as error:
        raise InvalidArgument(f"Cannot read the import file: {error}") from error
    failures = [
        Status(
            code=INVALID_ARGUMENT,
            message=f"Error in {by_path.get(Path(e.source), e.source)} line {e.line}: {e.reason}",
        )
        for e in errors[:MAX_PARTIAL_FAILURES]
    ]
    if not examples:
        with store.tx() as db:
            operations.finish(
                db,
                op_name,
                error=(
                    INVALID_ARGUMENT,
                    (f"No valid rows to import: all {row_count} rows were rejected (see partial failures)."),
                ),
                partial_failures=failures,
            )
        return

    dataset_id = names.parse_name(dataset_name, "datasets").id
    root = config.dataset_dir(dataset_id)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "imports").mkdir(exist_ok=True)
    rows: list[list[str]] = []
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
        # The resolved split is written, so an UNASSIGNED image keeps its split after the copy is renamed.
        rows += [
            [
                example.split,
                local,
                b.label,
                f"{b.xmin:.6f}",
                f"{b.ymin:.6f}",
                "",
                "",
                f"{b.xmax:.6f}",
                f"{b.ymax:.6f}",
                "",
                "",
            ]
            for b in example.boxes
        ] or [[example.split, local] + [""] * 9]
    op_id = names.parse_name(op_name, "operations").id
    with _dataset_lock(dataset_name):
        _write_atomic(root / "imports" / f"{op_id}.csv", _rows_csv(rows))
        _commit(store, config, op_name, dataset_name, root, failures)


def _commit(
    store: Store, config: ServiceConfig, op_name: str, dataset_name: str, root: Path, failures: list[Status]
) -> None:
    """Rebuild the dataset's training CSV from all imports and record counts and labels in one transaction.

    A row already imported is kept once: a retried ImportData (its first reply lost) or the same CSV imported
    again must not give the trainer every box twice."""
    text = "".join(path.read_text() for path in sorted((root / "imports").glob("*.csv")))
    rows = [list(row) for row in dict.fromkeys(tuple(row) for row in csv.reader(io.StringIO(text)))]
    _write_atomic(root / "annotations.csv", _rows_csv(rows))
    images = {row[1] for row in rows}
    labelled_images = Counter(label for label, _ in {(row[2], row[1]) for row in rows if row[2]})
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
            return
        dataset = Dataset.FromString(blob["proto"])
        dataset.example_count = len(images)
        Store.put_resource(
            db, dataset_name, KIND, names.location_of(dataset_name), dataset.SerializeToString()
        )
        for label, count in labelled_images.items():
            spec = specs.get(label) or AnnotationSpec(
                name=f"{dataset_name}/annotationSpecs/{names.new_numeric_id()}", display_name=label
            )
            spec.example_count = count
            Store.put_resource(db, spec.name, SPEC_KIND, dataset_name, spec.SerializeToString(), label=label)
        operations.finish(db, op_name, response=Empty(), partial_failures=failures)
