"""A directory is written whole or not at all, and what a killed writer left can be removed."""

import pytest

from edgetrain_trainer.export.staging import remove_with_partials, staged_directory


def test_a_finished_block_renames_its_staging_folder_onto_the_destination(tmp_path):
    dest = tmp_path / "package"
    with staged_directory(dest) as staging:
        (staging / "model.tflite").write_bytes(b"x")
        assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["package"]
    assert (dest / "model.tflite").read_bytes() == b"x"


def test_a_failed_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), staged_directory(tmp_path / "package") as staging:
        (staging / "half").write_bytes(b"x")
        raise RuntimeError("cancelled")
    assert not list(tmp_path.iterdir())


def test_remove_with_partials_takes_the_destination_and_a_killed_writers_leftovers_only(tmp_path):
    dest = tmp_path / "package"
    for name in ("package", ".package.partial-abc123", ".package.partial-zz", ".package2.partial-q", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_bytes(b"x")
    remove_with_partials(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".package2.partial-q", "other"]
    remove_with_partials(dest)  # nothing left to remove is fine
