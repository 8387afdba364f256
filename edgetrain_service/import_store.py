"""A dataset's stored imports and the training CSV made from them, on disk under the dataset's folder.

Each import's rows are kept as `imports/<sequence>-<operation>.csv` (the sequence is commit order; files of
older versions are `<operation>.csv` alone). `annotations.csv`, what a training copies, is the committed
imports folded in order. It changes together with the database: the importer stages the new CSV beside it,
moves it into place inside the transaction that records the import (before COMMIT), and puts back the CSV
of the committed imports if that transaction fails, so the dataset's example count and the CSV agree.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from . import dataset_rows
from .protos import lro
from .store import Store

ANNOTATIONS = "annotations.csv"


def rows_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def import_files(imports: Path) -> list[Path]:
    """The dataset's stored imports in commit order: `<sequence>-<operation>.csv`, after the files of
    versions that named them `<operation>.csv` alone (their order was not recorded)."""
    files = list(imports.glob("*.csv"))
    return sorted(p for p in files if "-" not in p.stem) + sorted(p for p in files if "-" in p.stem)


def own_file(imports: Path, op_id: str) -> Path:
    """Where this operation's rows go: where an interrupted run of it put them (the re-run keeps its place
    in the order), else next in commit order. Called under the dataset lock."""
    files = import_files(imports)
    for path in files:
        if path.stem.rsplit("-", 1)[-1] == op_id:
            return path
    sequences = [int(p.stem.split("-", 1)[0]) for p in files if "-" in p.stem]
    return imports / f"{max(sequences, default=0) + 1:08d}-{op_id}.csv"


def committed(store: Store, location: str, stored: Path) -> bool:
    """Whether the import that wrote `stored` committed it: its operation ended without an error, or was
    deleted (only done operations can be). One not done was interrupted (it runs again and rewrites its
    file) or could not record its outcome; one that ended in error never counted."""
    row = store.get_operation(f"{location}/operations/{stored.stem.rsplit('-', 1)[-1]}")
    if row is None:
        return True
    return bool(row["done"]) and not lro.Operation.FromString(row["proto"]).HasField("error")


def read_imports(files: list[Path]) -> list[dict[str, dataset_rows.Image]]:
    """Each stored import's images; the older unordered files count as one import, so their boxes all stay."""
    legacy = [row for p in files if "-" not in p.stem for row in csv.reader(io.StringIO(p.read_text()))]
    ordered = [csv.reader(io.StringIO(p.read_text())) for p in files if "-" in p.stem]
    return [dataset_rows.parse_import(rows) for rows in ([legacy] if legacy else []) + ordered]


def drop(store: Store, location: str, dataset_dir: Path, op_id: str) -> None:
    """Remove the rows operation `op_id` stored and make the training CSV the committed imports' again: for
    an import that ended in error after a crash between moving its CSV into place and its COMMIT."""
    imports = dataset_dir / "imports"
    for path in import_files(imports):
        if path.stem.rsplit("-", 1)[-1] == op_id:
            path.unlink()
    if (dataset_dir / ANNOTATIONS).exists():
        files = [f for f in import_files(imports) if committed(store, location, f)]
        images = dataset_rows.rebuild(read_imports(files))
        write_atomic(dataset_dir / ANNOTATIONS, rows_csv(dataset_rows.training_rows(images)))


class StagedAnnotations:
    """The dataset's next `annotations.csv`, written beside the current one until `publish` moves it into
    place; `withdraw` undoes either step, leaving the CSV of the imports stored in `committed_files`."""

    def __init__(self, dataset_dir: Path, images: dict[str, dataset_rows.Image]):
        self.path = dataset_dir / ANNOTATIONS
        self._existed = self.path.exists()
        self._staged = self.path.with_suffix(".csv.staged")
        self._staged.write_text(rows_csv(dataset_rows.training_rows(images)))
        self._published = False

    def publish(self) -> None:
        self._staged.replace(self.path)
        self._published = True

    def withdraw(self, committed_files: list[Path]) -> None:
        self._staged.unlink(missing_ok=True)
        if not self._published:
            return
        images = dataset_rows.rebuild(read_imports(committed_files))
        if self._existed or images:
            write_atomic(self.path, rows_csv(dataset_rows.training_rows(images)))
        else:
            self.path.unlink(missing_ok=True)
