"""The pure rules that fold a dataset's imports into its training CSV (edgetrain_service.dataset_rows)."""

from __future__ import annotations

from edgetrain_service.dataset_rows import (
    RowSplit,
    image_key,
    kept_split_rows,
    label_image_counts,
    parse_import,
    rebuild,
    training_rows,
)

A = "/data/images/aaaa.jpg"
A_OTHER_EXTENSION = "/data/images/aaaa.jpeg"
B = "/data/images/bbbb.png"


def row(split: str, path: str, label: str = "", x: str = "0.100000") -> list[str]:
    if not label:
        return [split, path] + [""] * 9
    return [split, path, label, x, "0.100000", "", "", "0.500000", "0.500000", "", ""]


def test_an_image_is_its_content_digest_whatever_its_extension():
    assert image_key(A) == image_key(A_OTHER_EXTENSION) == "aaaa"
    (image,) = parse_import([row("TRAIN", A, "ace"), row("TRAIN", A_OTHER_EXTENSION, "king")]).values()
    assert image.path == A and [box[0] for box in image.boxes] == ["ace", "king"]


def test_rows_of_one_image_in_one_import_are_one_list_with_duplicates_once():
    imported = parse_import(
        [row("TRAIN", A, "ace"), row("TRAIN", A, "ace"), row("TRAIN", A), row("TRAIN", A, "king")]
    )
    assert [box[0] for box in imported["aaaa"].boxes] == ["ace", "king"]


def test_a_later_import_replaces_the_box_list_and_keeps_split_and_copy():
    first = parse_import([row("TEST", A, "ace"), row("TEST", A, "ace", x="0.200000"), row("TRAIN", B, "ace")])
    correction = parse_import([row("TRAIN", A_OTHER_EXTENSION, "king")])
    dataset = rebuild([first, correction])
    assert training_rows(dataset) == [
        ["TEST", A, "king", "0.100000", "0.100000", "", "", "0.500000", "0.500000", "", ""],
        row("TRAIN", B, "ace"),
    ]
    assert label_image_counts(dataset) == {"ace": 1, "king": 1}


def test_a_later_row_without_a_box_makes_the_image_a_negative_example():
    dataset = rebuild([parse_import([row("TRAIN", A, "ace")]), parse_import([row("TRAIN", A)])])
    assert training_rows(dataset) == [row("TRAIN", A)]
    assert label_image_counts(dataset)["ace"] == 0


def test_the_same_import_twice_is_the_same_dataset():
    imported = parse_import([row("TRAIN", A, "ace"), row("TEST", B, "king"), row("TEST", B, "ace")])
    once = rebuild([imported])
    assert rebuild([imported, imported]) == once
    assert training_rows(rebuild([parse_import(training_rows(once))])) == training_rows(once)


def test_rows_asking_for_another_split_than_the_image_keeps_are_reported():
    before = rebuild([parse_import([row("TEST", A, "ace")])])
    imported = parse_import([row("TRAIN", A, "ace"), row("TRAIN", B, "ace")])
    asked = [
        RowSplit("aaaa", "TRAIN", True, "new.csv", 1),
        RowSplit("aaaa", "TRAIN", False, "new.csv", 2),  # UNASSIGNED asked for no split
        RowSplit("bbbb", "TRAIN", True, "new.csv", 3),
        RowSplit("bbbb", "TEST", True, "new.csv", 4),  # the same picture, first seen as TRAIN here
    ]
    kept = kept_split_rows(before, imported, asked)
    assert [(r.line, split) for r, split in kept] == [(1, "TEST"), (4, "TRAIN")]
