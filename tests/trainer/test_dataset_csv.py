"""AutoML import CSV: every bad row kind is reported with its line and skipped; good rows load."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgetrain_trainer.data.dataset import assign_split, load_dataset, validate_import
from edgetrain_trainer.data.rows import TEST, TRAIN, VALIDATION, RowError
from edgetrain_trainer.errors import DatasetError

GOOD = "TRAIN,a.jpg,cat,0.1,0.1,,,0.5,0.5,,"


def make_image(path: Path, size=(100, 80), color=None) -> Path:
    """A plain picture; its colour comes from its name unless given, so two files are two pictures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color or tuple(hashlib.sha256(str(path).encode()).digest()[:3])).save(path)
    return path


def write_csv(folder: Path, *lines: str, name="data.csv") -> Path:
    csv_path = folder / name
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("a.jpg", "b.jpg", "c.png"):
        make_image(tmp_path / name)
    (tmp_path / "notes.jpg").write_text("this is not an image")
    with open(tmp_path / "huge.jpg", "wb") as f:  # sparse: 31 MB on paper, nothing on disk
        f.truncate(31 * 1024 * 1024)
    return tmp_path


BAD_ROWS = [
    ("TRAIN,b.jpg,cat,0.1,0.1,,,0.5,0.5", "expected 11 columns"),
    ("TRAIN,b.jpg,cat,0.1,0.1,,,0.5,0.5,,,", "expected 11 columns"),
    ("TRAINING,b.jpg,cat,0.1,0.1,,,0.5,0.5,,", "ML_USE 'TRAINING' must be one of"),
    (",b.jpg,cat,0.1,0.1,,,0.5,0.5,,", "ML_USE '' must be one of"),
    ("TRAIN,,cat,0.1,0.1,,,0.5,0.5,,", "IMAGE is empty"),
    ("TRAIN,b\x00.jpg,cat,0.1,0.1,,,0.5,0.5,,", "IMAGE contains a NUL character"),  # was a ValueError
    ("TRAIN,.,cat,0.1,0.1,,,0.5,0.5,,", "not a file"),
    ("TRAIN,b.jpg,cat,abc,0.1,,,0.5,0.5,,", "X_MIN 'abc' is not a number"),
    ("TRAIN,b.jpg,cat,0.1,nan,,,0.5,0.5,,", "Y_MIN 'nan' is not a number"),
    ("TRAIN,b.jpg,cat,0.1,0.1,,,1.2,0.5,,", "X_MAX 1.2 is outside 0–1"),
    ("TRAIN,b.jpg,cat,-0.1,0.1,,,0.5,0.5,,", "X_MIN -0.1 is outside 0–1"),
    ("TRAIN,b.jpg,cat,0.5,0.1,,,0.4,0.5,,", "X_MIN 0.5 must be less than X_MAX 0.4"),
    ("TRAIN,b.jpg,cat,0.1,0.5,,,0.4,0.5,,", "Y_MIN 0.5 must be less than Y_MAX 0.5"),
    ("TRAIN,b.jpg,cat,0.1,0.1,,,0.105,0.5,,", "smaller than the minimum edge 0.01"),
    ("TRAIN,b.jpg,,0.1,0.1,,,0.5,0.5,,", "a bounding box needs a LABEL"),
    ("TRAIN,b.jpg,cat,,,,,,,,", "LABEL 'cat' has no bounding box"),
    ("TRAIN,b.jpg,big-cat,0.1,0.1,,,0.5,0.5,,", "LABEL 'big-cat' must be 1–32 ASCII letters"),
    ("TRAIN,b.jpg," + "x" * 33 + ",0.1,0.1,,,0.5,0.5,,", "must be 1–32 ASCII letters"),
    ("TRAIN,b.jpg,cat,0.1,0.1,,,0.5,,,", "found 3 of 8 coordinate cells filled"),
    ("TRAIN,b.jpg,cat,0.1,0.1,0.5,0.5,0.5,0.1,0.1,0.5", "corners of an axis-parallel rectangle"),
    ("TRAIN,b.jpg,cat,0.1,0.1,0.5,0.1,0.5,0.6,0.2,0.6", "corners of an axis-parallel rectangle"),
    ("TRAIN,missing.jpg,cat,0.1,0.1,,,0.5,0.5,,", "image file not found"),
    ("TRAIN,notes.jpg,cat,0.1,0.1,,,0.5,0.5,,", "not an image PIL can identify"),
    ("TRAIN,huge.jpg,cat,0.1,0.1,,,0.5,0.5,,", "the limit is 30 MB"),
    ("TRAIN,gs://bucket/b.jpg,cat,0.1,0.1,,,0.5,0.5,,", "is a URI; only local paths"),
    ("TEST,a.jpg,dog,0.2,0.2,,,0.6,0.6,,", "has ML_USE TEST here but TRAIN at"),
]


@pytest.mark.parametrize(("row", "reason"), BAD_ROWS)
def test_bad_row_is_reported_with_its_line_and_good_rows_are_kept(folder, row, reason):
    csv_path = write_csv(folder, GOOD, row, "VALIDATION,c.png,dog,0.2,0.2,,,0.9,0.9,,")

    dataset = load_dataset(csv_path)

    assert len(dataset.errors) == 1, dataset.errors
    error = dataset.errors[0]
    assert (error.line, error.source) == (2, str(csv_path))
    assert reason in error.reason
    assert [e.image_ref for e in dataset.examples] == ["a.jpg", "c.png"]
    assert [len(e.boxes) for e in dataset.examples] == [1, 1]


def test_line_numbers_count_blank_lines_and_quoted_cells(folder):
    csv_path = write_csv(
        folder, '"TRAIN","a.jpg","cat",0.1,0.1,,,0.5,0.5,,', "", "TRAIN,a.jpg,cat,x,0.1,,,0.5,0.5,,"
    )
    errors = load_dataset(csv_path).errors
    assert [(e.line, e.reason) for e in errors] == [(3, "X_MIN 'x' is not a number")]


def test_a_record_over_the_csv_field_limit_is_counted_and_reported(folder):
    csv_path = write_csv(
        folder, GOOD, "TRAIN," + "b" * 200_000 + ".jpg,cat,0.1,0.1,,,0.5,0.5,,", "TEST,c.png,,,,,,,,,"
    )
    summary = validate_import(csv_path).to_dict()
    assert summary["rowCount"] == 3
    assert [(e["line"], e["reason"]) for e in summary["errors"]] == [
        (2, "malformed CSV (field larger than field limit (131072))")
    ]


def test_an_unclosed_quote_costs_its_own_line_only(folder):
    """The CSV reader read on to the next quote: the valid rows after it were one bad record, and lost."""
    csv_path = write_csv(
        folder,
        GOOD,
        'TRAIN,"b.jpg,cat,0.1,0.1,,,0.5,0.5,,',
        "TRAIN,a.jpg,dog,0.2,0.2,,,0.6,0.6,,",
        "TEST,c.png,,,,,,,,,",
    )
    summary = validate_import(csv_path).to_dict()
    assert summary["rowCount"] == 4
    assert [(e["line"], e["reason"]) for e in summary["errors"]] == [(2, "a quote is not closed on its line")]
    assert sorted((e.image_ref, len(e.boxes)) for e in load_dataset(csv_path).examples) == [
        ("a.jpg", 2),
        ("c.png", 0),
    ]


def test_nothing_usable_raises_dataset_error_with_every_row_error(folder):
    csv_path = write_csv(
        folder, "TRAIN,missing.jpg,cat,0.1,0.1,,,0.5,0.5,,", "BAD,a.jpg,cat,0.1,0.1,,,0.5,0.5,,"
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(csv_path)
    assert [e.line for e in caught.value.errors] == [1, 2]
    assert "no usable training data" in str(caught.value)
    assert "image file not found" in str(caught.value)


def test_validate_import_reports_counts_and_errors_without_raising(folder):
    csv_path = write_csv(
        folder, GOOD, "TRAIN,a.jpg,dog,0.5,0.5,,,0.9,0.9,,", "TEST,b.jpg,,,,,,,,,", "X,b.jpg,,,,,,,,,"
    )
    report = validate_import(csv_path)
    summary = report.to_dict()
    assert summary["rowCount"] == 4
    assert summary["imageCount"] == 2
    assert summary["boxCount"] == 2
    assert summary["labelCounts"] == {"cat": 1, "dog": 1}
    assert summary["errors"] == [
        {"line": 4, "reason": summary["errors"][0]["reason"], "source": str(csv_path)}
    ]
    assert report.usable

    empty = validate_import(write_csv(folder, "X,a.jpg,,,,,,,,,", name="bad.csv"))
    assert not empty.usable
    assert len(empty.errors) == 1


def test_unreadable_csv_raises(tmp_path):
    with pytest.raises(DatasetError, match="no such CSV file"):
        load_dataset(tmp_path / "nope.csv")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("TRAIN,caf\xe9.jpg,cat,0.1,0.1,,,0.5,0.5,,\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8 text .invalid continuation byte on line 1, byte 9"):
        load_dataset(latin1)
    latin1.write_bytes(
        b"TRAIN,a.jpg,cat,0.1,0.1,,,0.5,0.5,,\n" * 2 + "TEST,caf\xe9.jpg,,,,,,,,,\n".encode("latin-1")
    )
    with pytest.raises(DatasetError, match="on line 3, byte "):  # a byte offset alone was hard to find
        load_dataset(latin1)
    latin1.write_bytes(latin1.read_bytes().replace(b"\n", b"\r"))  # old Mac line ends
    with pytest.raises(DatasetError, match="on line 3, byte "):
        load_dataset(latin1)


def test_two_and_four_vertex_boxes_and_images_without_boxes(folder):
    csv_path = write_csv(
        folder,
        "train,a.jpg,cat,.1,.2,,,.5,.6,,",
        "TRAIN,a.jpg,dog,0.5,0.6,0.5,0.2,0.1,0.2,0.1,0.6",  # 4 vertices, connected, any start corner
        "VALIDATE,b.jpg,,,,,,,,,",
    )
    dataset = load_dataset(csv_path)
    assert dataset.errors == []
    a, b = dataset.examples
    assert [(box.label, box.xmin, box.ymin, box.xmax, box.ymax) for box in a.boxes] == [
        ("cat", 0.1, 0.2, 0.5, 0.6),
        ("dog", 0.1, 0.2, 0.5, 0.6),
    ]
    assert (b.split, b.ml_use, b.boxes) == (VALIDATION, VALIDATION, ())
    assert (a.width, a.height) == (100, 80)


def test_labels_are_sorted_and_class_ids_follow_them(folder):
    csv_path = write_csv(
        folder,
        "TRAIN,a.jpg,zebra,0.1,0.1,,,0.5,0.5,,",
        "TRAIN,a.jpg,Ant,0.1,0.1,,,0.5,0.5,,",
        "TRAIN,b.jpg,cat,0.1,0.1,,,0.5,0.5,,",
    )
    dataset = load_dataset(csv_path)
    assert dataset.labels == ["Ant", "cat", "zebra"]
    assert dataset.examples[0].class_ids().tolist() == [2, 0]
    np.testing.assert_allclose(dataset.examples[0].boxes_yxyx(), [[0.1, 0.1, 0.5, 0.5]] * 2, rtol=1e-6)


def test_more_than_500_boxes_rejects_the_extra_rows(folder):
    rows = [f"TRAIN,a.jpg,cat,0.1,0.1,,,0.5,{0.2 + n / 1000:.3f},," for n in range(502)]
    dataset = load_dataset(write_csv(folder, *rows))
    assert len(dataset.examples[0].boxes) == 500
    assert [e.line for e in dataset.errors] == [501, 502]
    assert "more than 500 boxes" in dataset.errors[0].reason


def test_relative_absolute_and_file_uri_paths(folder, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("csvs")
    absolute = folder / "a.jpg"
    csv_path = write_csv(
        elsewhere,
        f"TRAIN,{absolute},cat,0.1,0.1,,,0.5,0.5,,",
        f"TRAIN,file://{folder / 'c.png'},cat,0.1,0.1,,,0.5,0.5,,",
        "TRAIN,sub/d.jpg,cat,0.1,0.1,,,0.5,0.5,,",
        # a file URI as a browser or Path.as_uri() writes it: %-escaped, or with the host named; the service
        # read these and the trainer looked for "my%20cells.jpg" and for a folder "localhost"
        f"TRAIN,{(folder / 'my cells.jpg').as_uri()},cat,0.1,0.1,,,0.5,0.5,,",
        f"TRAIN,file://localhost{folder / 'b.jpg'},cat,0.1,0.1,,,0.5,0.5,,",
        f"TRAIN,file://elsewhere.example{folder / 'b.jpg'},cat,0.1,0.1,,,0.5,0.5,,",
        f"TRAIN,file://{folder / 'x%00.jpg'},cat,0.1,0.1,,,0.5,0.5,,",  # was an uncaught ValueError
        f"TRAIN,file://{folder / 'shot#1.jpg'},cat,0.1,0.1,,,0.5,0.5,,",  # "#" is part of the name
    )
    make_image(elsewhere / "sub" / "d.jpg")
    make_image(folder / "my cells.jpg")
    make_image(folder / "shot#1.jpg")
    dataset = load_dataset(csv_path)
    assert [(e.line, e.reason) for e in dataset.errors] == [
        (
            6,
            f"image file://elsewhere.example{folder / 'b.jpg'} is not a local file URI (file:///PATH or "
            "file://localhost/PATH)",
        ),
        (7, "IMAGE contains a NUL character (%00)"),
    ]
    assert [e.image_path for e in dataset.examples] == [
        absolute,
        folder / "c.png",
        elsewhere / "sub" / "d.jpg",
        folder / "my cells.jpg",
        folder / "b.jpg",
        folder / "shot#1.jpg",
    ]


def test_resolver_maps_uris_and_its_failures_become_row_errors(folder):
    def resolve(ref: str) -> Path | None:
        if ref == "gs://bucket/broken.jpg":
            raise PermissionError("403 Forbidden")
        return folder / ref.rsplit("/", 1)[1] if ref.startswith("gs://") else None

    csv_path = write_csv(
        folder,
        "TRAIN,gs://bucket/b.jpg,cat,0.1,0.1,,,0.5,0.5,,",
        "TRAIN,gs://bucket/broken.jpg,cat,0.1,0.1,,,0.5,0.5,,",
        "TRAIN,a.jpg,cat,0.1,0.1,,,0.5,0.5,,",
    )
    dataset = load_dataset(csv_path, resolve=resolve)
    assert [e.image_path for e in dataset.examples] == [folder / "b.jpg", folder / "a.jpg"]
    assert [(e.line, e.reason) for e in dataset.errors] == [
        (2, "cannot fetch image gs://bucket/broken.jpg (403 Forbidden)")
    ]


def test_several_csvs_load_together_with_errors_naming_their_file(folder):
    first = write_csv(folder, GOOD, name="one.csv")
    second = write_csv(
        folder, "TEST,b.jpg,dog,0.1,0.1,,,0.5,0.5,,", "TEST,b.jpg,dog,2,0.1,,,0.5,0.5,,", name="two.csv"
    )
    dataset = load_dataset([first, second])
    assert dataset.labels == ["cat", "dog"]
    assert dataset.errors == [
        RowError(2, "X_MIN 2 is outside 0–1 (coordinates are relative to the image size)", str(second))
    ]


def test_unassigned_split_is_a_stable_hash_of_the_image_reference():
    refs = [f"images/img_{i:04d}.jpg" for i in range(2000)]
    splits = [assign_split("UNASSIGNED", ref) for ref in refs]
    assert splits == [assign_split("UNASSIGNED", ref) for ref in refs]
    share = {name: splits.count(name) / len(refs) for name in (TRAIN, VALIDATION, TEST)}
    assert share[TRAIN] == pytest.approx(0.8, abs=0.03)
    assert share[VALIDATION] == pytest.approx(0.1, abs=0.02)
    assert share[TEST] == pytest.approx(0.1, abs=0.02)
    # pinned: the same answer on every machine and run (SHA-256 of the reference as written)
    fraction = int.from_bytes(hashlib.sha256(b"images/img_0000.jpg").digest()[:8], "big") / 2**64
    expected = TRAIN if fraction < 0.8 else VALIDATION if fraction < 0.9 else TEST
    assert splits[0] == expected
    assert assign_split(TEST, "images/img_0000.jpg") == TEST


def test_unassigned_rows_get_their_hashed_split(folder):
    dataset = load_dataset(write_csv(folder, "UNASSIGNED,a.jpg,cat,0.1,0.1,,,0.5,0.5,,"))
    (example,) = dataset.examples
    assert example.ml_use == "UNASSIGNED"
    assert example.split == assign_split("UNASSIGNED", "a.jpg")


def test_dataset_modules_do_not_import_tensorflow(folder):
    code = (
        "import sys, edgetrain_trainer.data.dataset, edgetrain_trainer.data.images, "
        "edgetrain_trainer.evaluation, edgetrain_trainer.cli; "
        "from edgetrain_trainer.data.dataset import validate_import; "
        "assert validate_import(sys.argv[1]).usable; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'"
    )
    csv_path = write_csv(folder, GOOD)
    result = subprocess.run([sys.executable, "-c", code, str(csv_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_box_edge_of_exactly_0_01_is_accepted_and_0_0099_is_not(folder):
    csv_path = write_csv(
        folder, "TRAIN,a.jpg,cat,0.70,0.70,,,0.71,0.71,,", "TRAIN,a.jpg,cat,0.1,0.1,,,0.1099,0.5,,"
    )
    dataset = load_dataset(csv_path)
    assert len(dataset.examples[0].boxes) == 1
    assert [e.line for e in dataset.errors] == [2]


def test_the_same_picture_under_two_names_is_one_image(folder):
    """A copy in TEST of a TRAIN picture was two images: the model was evaluated on what it trained on.
    As in AutoML (and this project's service), an image is its bytes: rows of a copy or a link add to it."""
    shutil.copy(folder / "a.jpg", folder / "a_copy.jpg")
    (folder / "a_link.jpg").symlink_to(folder / "a.jpg")
    csv_path = write_csv(
        folder,
        "TRAIN,a.jpg,cat,0.1,0.1,,,0.5,0.5,,",
        "TRAIN,a_copy.jpg,dog,0.2,0.2,,,0.6,0.6,,",
        "TEST,a_link.jpg,cat,0.3,0.3,,,0.7,0.7,,",
        "TEST,b.jpg,cat,0.1,0.1,,,0.5,0.5,,",
    )

    dataset = load_dataset(csv_path)

    assert [(e.image_ref, e.split, [b.label for b in e.boxes]) for e in dataset.examples] == [
        ("a.jpg", TRAIN, ["cat", "dog"]),
        ("b.jpg", TEST, ["cat"]),
    ]
    [error] = dataset.errors
    assert (error.line, error.reason) == (
        3,
        f"image a_link.jpg has ML_USE TEST here but TRAIN at {csv_path}:1 (as a.jpg, the same picture); "
        "an image belongs to one set",
    )


def test_the_services_row_check_keeps_copies_apart(folder):
    """The service's import merges pictures by content after its row check; the local stack asks for that
    check (by_content=False), and took its allowed folders from the merged images, leaving a copy's out."""
    (folder / "copies").mkdir()
    shutil.copy(folder / "a.jpg", folder / "copies" / "a.jpg")
    csv_path = write_csv(folder, GOOD, "TRAIN,copies/a.jpg,dog,0.2,0.2,,,0.6,0.6,,")

    report = validate_import(csv_path, by_content=False)

    assert [e.image_path for e in report.dataset.examples] == [folder / "a.jpg", folder / "copies" / "a.jpg"]
    assert [e.image_ref for e in validate_import(csv_path).dataset.examples] == ["a.jpg"]


def test_a_repeated_box_counts_once(folder):
    """A duplicated row was a second, identical ground-truth box the model could never match (the service's
    import folded it already: the same CSV trained two ways)."""
    csv_path = write_csv(folder, GOOD, "TRAIN,b.jpg,cat,0.1,0.1,,,0.5,0.5,,", GOOD)

    dataset = load_dataset(csv_path)

    assert sorted((e.image_ref, len(e.boxes)) for e in dataset.examples) == [("a.jpg", 1), ("b.jpg", 1)]
    assert dataset.errors == []
