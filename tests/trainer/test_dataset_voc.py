"""Pascal VOC folders: the shared BCCD and cards layouts, a devkit layout, a flat folder, bad objects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgetrain_trainer.data.dataset import assign_split, load_dataset
from edgetrain_trainer.data.rows import TEST, TRAIN, VALIDATION

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
BCCD = SHARED / "bccd"
CARDS = SHARED / "cards"


def voc_xml(filename: str, objects: list[tuple], size=(200, 100)) -> str:
    """objects: (name, xmin, ymin, xmax, ymax); each <object> starts on its own line."""
    parts = [
        "<annotation>",
        f"  <filename>{filename}</filename>",
        f"  <size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>",
    ]
    for name, *box in objects:
        parts += [
            "  <object>",
            f"    <name>{name}</name>",
            "    <bndbox>"
            + "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True)),
            "    </bndbox>",
            "  </object>",
        ]
    return "\n".join(parts + ["</annotation>"]) + "\n"


def make_image(path: Path, size=(200, 100)) -> None:
    """A plain picture coloured by its path: two files are two pictures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, tuple(hashlib.sha256(str(path).encode()).digest()[:3])).save(path)


@pytest.mark.skipif(not BCCD.is_dir(), reason="needs ../shared/datasets/bccd")
def test_bccd_voc_folder_matches_its_automl_csv():
    voc = load_dataset(BCCD / "annotations_voc")
    csv = load_dataset(BCCD / "annotations.csv")

    assert voc.labels == csv.labels == ["Platelets", "RBC", "WBC"]
    assert voc.split_counts() == csv.split_counts() == {TRAIN: 205, VALIDATION: 87, TEST: 72}
    by_ref = {e.image_ref: e for e in csv.examples}
    for example in voc.examples:
        twin = by_ref[example.image_ref]  # "images/BloodImage_00000.jpg" in both
        assert example.split == twin.split
        assert (example.width, example.height) == (twin.width, twin.height) == (640, 480)
        np.testing.assert_allclose(example.boxes_yxyx(), twin.boxes_yxyx(), atol=1e-5)
        assert example.class_ids().tolist() == twin.class_ids().tolist()
    # the two zero-size boxes the CSV export dropped are reported with their XML lines
    assert [(Path(e.source).name, e.line) for e in voc.errors] == [
        ("BloodImage_00338.xml", 158),
        ("BloodImage_00343.xml", 50),
    ]
    assert all("min ≥ max" in e.reason for e in voc.errors)


@pytest.mark.skipif(not CARDS.is_dir(), reason="needs ../shared/datasets/cards")
def test_cards_voc_split_comes_from_train_and_test_folders():
    dataset = load_dataset(CARDS / "annotations_voc")
    assert dataset.split_counts() == {TRAIN: 296, VALIDATION: 0, TEST: 67}
    assert dataset.labels == ["ace", "jack", "king", "nine", "queen", "ten"]
    assert dataset.errors == []


def test_devkit_layout_with_image_sets(tmp_path):
    for stem, split_file in (("a", "train"), ("b", "val"), ("c", "test"), ("d", None)):
        make_image(tmp_path / "JPEGImages" / f"{stem}.jpg")
        (tmp_path / "Annotations").mkdir(exist_ok=True)
        (tmp_path / "Annotations" / f"{stem}.xml").write_text(
            voc_xml(f"{stem}.jpg", [("dog", 20, 10, 120, 60)])
        )
        if split_file:
            (tmp_path / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
            with open(tmp_path / "ImageSets" / "Main" / f"{split_file}.txt", "a") as listing:
                listing.write(stem + "\n")

    dataset = load_dataset(tmp_path)

    splits = {e.image_ref: e.split for e in dataset.examples}
    assert splits == {
        "JPEGImages/a.jpg": TRAIN,
        "JPEGImages/b.jpg": VALIDATION,
        "JPEGImages/c.jpg": TEST,
        "JPEGImages/d.jpg": assign_split("UNASSIGNED", "JPEGImages/d.jpg"),
    }
    box = dataset.examples[0].boxes[0]
    assert (box.label, box.xmin, box.ymin, box.xmax, box.ymax) == ("dog", 0.1, 0.1, 0.6, 0.6)


def test_flat_folder_reports_bad_objects_by_xml_line_and_keeps_the_rest(tmp_path):
    make_image(tmp_path / "a.png")
    make_image(tmp_path / "b.jpg")
    objects = [
        ("cat", 0, 0, 200, 100),  # whole image: kept (x_max = width is VOC's convention)
        ("cat", 50, 50, 50, 80),  # zero width
        ("", 10, 10, 50, 50),  # no name
        ("cat", 10, 10, 500, 50),  # outside the image
        ("cat", 10, 10, "abc", 50),  # not a number
        ("cat", 10, 10, 11, 50),  # 1 px of 200: below the 0.01 edge
    ]
    (tmp_path / "a.xml").write_text(voc_xml("a.png", objects))
    (tmp_path / "b.xml").write_text(voc_xml("b.jpg", []))  # an image with no objects
    (tmp_path / "c.xml").write_text(voc_xml("c.jpg", [("cat", 1, 1, 50, 50)]))  # image missing
    (tmp_path / "d.xml").write_text("<annotation><filename>d.jpg</filename>\n<size>")  # broken XML

    dataset = load_dataset(tmp_path)

    assert [(e.image_ref, len(e.boxes)) for e in dataset.examples] == [("a.png", 1), ("b.jpg", 0)]
    errors = [(Path(e.source).name, e.line, e.reason) for e in dataset.errors]
    object_lines = [4 + 5 * i for i in range(len(objects))]  # see voc_xml
    assert [(name, line) for name, line, _ in errors] == [
        ("a.xml", object_lines[1]),
        ("a.xml", object_lines[2]),
        ("a.xml", object_lines[3]),
        ("a.xml", object_lines[4]),
        ("a.xml", object_lines[5]),
        ("c.xml", 2),
        ("d.xml", 2),
    ]
    reasons = [reason for _, _, reason in errors]
    assert "min ≥ max" in reasons[0]
    assert "no <name>" in reasons[1]
    assert "outside the image" in reasons[2]
    assert "not a number" in reasons[3]
    assert "minimum edge" in reasons[4]
    assert "not found" in reasons[5]
    assert "cannot parse VOC XML" in reasons[6]


def test_an_xml_that_is_not_a_voc_annotation_is_a_row_error_not_a_crash(tmp_path):
    """<Annotation> (capital A) with an <object><name> inside was an uncaught IndexError for the folder."""
    make_image(tmp_path / "a.jpg")
    (tmp_path / "a.xml").write_text(voc_xml("a.jpg", [("cat", 10, 10, 100, 90)]))
    stray = voc_xml("a.jpg", [("dog", 10, 10, 100, 90)]).replace("annotation>", "Annotation>")
    (tmp_path / "stray.xml").write_text(stray)

    dataset = load_dataset(tmp_path)

    assert [(e.image_ref, [b.label for b in e.boxes]) for e in dataset.examples] == [("a.jpg", ["cat"])]
    [error] = dataset.errors
    assert (Path(error.source).name, error.line) == ("stray.xml", 1)
    assert error.reason == "not a Pascal VOC annotation: the root element is <Annotation>, not <annotation>"


@pytest.mark.parametrize("name", ["traffic\nlight", "traffic\tlight", "traffic\u2028light"])
def test_a_label_with_a_line_break_or_control_character_is_refused(tmp_path, name):
    """Labels go to dict.txt one per line and a class is its line number: "traffic\\nlight" became two
    labels there, and every later class was read back under the wrong name."""
    make_image(tmp_path / "a.jpg")
    (tmp_path / "a.xml").write_text(voc_xml("a.jpg", [(name, 10, 10, 100, 90), ("zebra", 20, 20, 90, 90)]))

    dataset = load_dataset(tmp_path)

    assert [b.label for e in dataset.examples for b in e.boxes] == ["zebra"]
    [error] = dataset.errors
    assert error.line == 4
    assert f"<name> {name!r} holds a line break, tab or other control character" in error.reason


def test_a_label_may_hold_spaces_and_any_printable_character(tmp_path):
    make_image(tmp_path / "a.jpg")
    names = ["traffic light", "café", "no\u00a0break", "ダンプ"]
    objects = [(name, 10 + 10 * i, 10, 100 + 10 * i, 90) for i, name in enumerate(names)]
    (tmp_path / "a.xml").write_text(voc_xml("a.jpg", objects))

    dataset = load_dataset(tmp_path)

    assert dataset.errors == [] and sorted(dataset.labels) == sorted(names)


def test_a_size_that_does_not_match_the_image_is_refused_not_used_to_scale_the_boxes(tmp_path):
    """A <size> with width and height swapped scaled every box of the file into the wrong place, silently."""
    make_image(tmp_path / "a.jpg", size=(200, 100))
    make_image(tmp_path / "b.jpg", size=(200, 100))
    (tmp_path / "a.xml").write_text(voc_xml("a.jpg", [("cat", 10, 10, 90, 90)], size=(100, 200)))
    (tmp_path / "b.xml").write_text(voc_xml("b.jpg", [("cat", 10, 10, 90, 90)], size=(200, 100)))

    dataset = load_dataset(tmp_path)

    assert [e.image_ref for e in dataset.examples] == ["b.jpg"]
    [error] = dataset.errors
    assert (Path(error.source).name, error.line) == ("a.xml", 3)
    assert error.reason == (
        "<size> 100×200 does not match the image a.jpg, 200×100 as displayed (EXIF orientation applied): "
        "its boxes cannot be placed"
    )


def test_size_is_compared_with_the_image_as_displayed(tmp_path):
    """A phone photo stored 200×100 with EXIF orientation 6 is shown, and trained on, at 100×200."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (200, 100), (90, 120, 30)).save(tmp_path / "a.jpg", exif=exif)
    (tmp_path / "a.xml").write_text(voc_xml("a.jpg", [("cat", 10, 10, 90, 90)], size=(100, 200)))
    Image.new("RGB", (200, 100), (30, 120, 90)).save(tmp_path / "b.jpg", exif=exif)
    (tmp_path / "b.xml").write_text(voc_xml("b.jpg", [("cat", 10, 10, 90, 90)], size=(200, 100)))

    dataset = load_dataset(tmp_path)

    [example] = dataset.examples
    assert (example.image_ref, example.width, example.height) == ("a.jpg", 100, 200)
    box = example.boxes[0]
    assert (box.xmin, box.ymin, box.xmax, box.ymax) == pytest.approx((0.1, 0.05, 0.9, 0.45))
    [error] = dataset.errors
    assert Path(error.source).name == "b.xml"
    assert "200×100 does not match the image b.jpg, 100×200 as displayed" in error.reason
