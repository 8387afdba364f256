"""The training CSV changes only with the import's database commit: staged beside the current one, moved into
place inside the transaction, and put back to the committed imports' CSV when that transaction fails after
the move (a failed COMMIT, which a trigger cannot inject: the service test covers a refused statement)."""

from __future__ import annotations

from pathlib import Path

from edgetrain_service import dataset_rows
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
