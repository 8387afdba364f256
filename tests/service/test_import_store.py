"""The training CSV changes only with the import's database commit: staged beside the current one, moved into
place inside the transaction, and put back to the committed imports' CSV when that transaction fails after
the move (a failed COMMIT, which a trigger cannot inject: the service test covers a refused statement); a
training's copy of the CSV waits for that commit or withdrawal."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from edgetrain_service import dataset_rows
from edgetrain_service.dataset_lock import dataset_lock
from edgetrain_service.import_store import ANNOTATIONS, StagedAnnotations, read_imports

ACE = "ace,0.100000,0.100000,,,0.500000,0.500000,,"
KING = "king,0.200000,0.200000,,,0.600000,0.600000,,"


def _stored_import(dataset_dir: Path, name: str, lines: list[str]) -> Path:
    path = dataset_dir / "imports" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _stage(dataset_dir: Path, files: list[Path]) -> StagedAnnotations:
    return StagedAnnotations(dataset_dir, dataset_rows.rebuild(read_imports(files)))


def test_the_csv_changes_on_publish_and_a_withdrawal_puts_the_committed_one_back(tmp_path):
    committed = _stored_import(tmp_path, "00000001-a.csv", [f"TRAIN,images/aa.jpg,{ACE}"])
    _stage(tmp_path, [committed]).publish()
    before = (tmp_path / ANNOTATIONS).read_text()
    refused = _stored_import(tmp_path, "00000002-b.csv", [f"TEST,images/bb.jpg,{KING}"])
    staged = _stage(tmp_path, [committed, refused])
    assert (tmp_path / ANNOTATIONS).read_text() == before
    staged.publish()
    assert (tmp_path / ANNOTATIONS).read_text() == before + f"TEST,images/bb.jpg,{KING}\n"
    staged.withdraw([committed])
    assert (tmp_path / ANNOTATIONS).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [ANNOTATIONS, "imports"]


def test_withdrawing_a_staged_csv_before_publish_leaves_the_current_one(tmp_path):
    committed = _stored_import(tmp_path, "00000001-a.csv", [f"TRAIN,images/aa.jpg,{ACE}"])
    _stage(tmp_path, [committed]).publish()
    before = (tmp_path / ANNOTATIONS).read_text()
    refused = _stored_import(tmp_path, "00000002-b.csv", [f"TRAIN,images/aa.jpg,{KING}"])
    _stage(tmp_path, [committed, refused]).withdraw([committed])
    assert (tmp_path / ANNOTATIONS).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [ANNOTATIONS, "imports"]


def test_a_first_import_withdrawn_after_publish_leaves_no_csv(tmp_path):
    refused = _stored_import(tmp_path, "00000001-a.csv", [f"TRAIN,images/aa.jpg,{ACE}"])
    staged = _stage(tmp_path, [refused])
    staged.publish()
    staged.withdraw([])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imports"]


def _snapshot(dataset_dir: Path, dest: Path, started) -> None:
    from edgetrain_service.training import snapshot_rows

    started.set()
    if not snapshot_rows(dataset_dir, dest):
        dest.with_suffix(".none").touch()  # what the training reports as "no imported data"


def _blocked_snapshot(dataset_dir: Path, copy: Path):
    """A training's copy started in a spawned process (as trainings run) while the caller holds the lock;
    checks it waits."""
    spawn = multiprocessing.get_context("spawn")
    started = spawn.Event()
    worker = spawn.Process(target=_snapshot, args=(dataset_dir, copy, started))
    worker.start()
    assert started.wait(120)
    worker.join(1.0)
    assert worker.is_alive() and not copy.exists()
    return worker


def test_a_training_in_another_process_copies_the_csv_only_after_the_import_is_decided(tmp_path):
    committed = _stored_import(tmp_path, "00000001-a.csv", [f"TRAIN,images/aa.jpg,{ACE}"])
    _stage(tmp_path, [committed]).publish()
    before = (tmp_path / ANNOTATIONS).read_text()
    copy = tmp_path / "training-copy.csv"
    with dataset_lock(tmp_path):  # an import between its CSV move and its COMMIT
        refused = _stored_import(tmp_path, "00000002-b.csv", [f"TEST,images/bb.jpg,{KING}"])
        staged = _stage(tmp_path, [committed, refused])
        staged.publish()
        worker = _blocked_snapshot(tmp_path, copy)
        staged.withdraw([committed])  # the COMMIT failed
    worker.join(120)
    assert worker.exitcode == 0
    assert copy.read_text() == before


def test_a_training_waiting_on_a_first_import_that_fails_finds_no_data(tmp_path):
    copy = tmp_path / "training-copy.csv"
    with dataset_lock(tmp_path):
        refused = _stored_import(tmp_path, "00000001-a.csv", [f"TRAIN,images/aa.jpg,{ACE}"])
        staged = _stage(tmp_path, [refused])
        staged.publish()
        worker = _blocked_snapshot(tmp_path, copy)
        staged.withdraw([])  # the COMMIT failed: no CSV again
    worker.join(120)
    assert worker.exitcode == 0
    assert not copy.exists() and copy.with_suffix(".none").exists()
