"""Pascal VOC folders: XML annotations (pixel boxes) turned into AutoML-style normalized rows.

Layouts found under the folder ROOT given:
- ROOT/Annotations/*.xml with images in ROOT/JPEGImages/ (the VOC devkit layout);
- any *.xml below ROOT (e.g. a flat folder of xml + images, or annotations_voc/{train,test}/),
  with each image looked up by its <filename> beside the XML, then in ROOT/{JPEGImages,images}/,
  ROOT/, and the same folders of ROOT's parent (so ROOT may be the annotations folder itself).
Splits: ImageSets/Main/{train,val,test}.txt (in ROOT or its parent) when they list the image;
otherwise the XML's folder name (train/val/validation/test); otherwise UNASSIGNED (hashed 80/10/10).
Boxes are normalized by the image's size as displayed (EXIF orientation applied); a <size> that disagrees
with it is an error for the file (a swapped <size> would move every box). Corners up to one pixel outside the
image are clipped, as the VOC tools write x_max = width. Error lines are XML lines.
<difficult>/<truncated> are ignored (AutoML has no such flags): every <object> is a box; <part>s are not.
"""

from __future__ import annotations

import math
import unicodedata
import xml.parsers.expat
from pathlib import Path
from typing import Any

from .images import UnreadableImageError, check_image
from .rows import (
    EDGE_TOLERANCE,
    MIN_BOX_EDGE,
    TEST,
    TRAIN,
    UNASSIGNED,
    VALIDATION,
    AnnotationRow,
    Box,
    RowError,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".bmp", ".gif", ".webp")
IMAGE_SET_FILES = ((TRAIN, "train.txt"), (VALIDATION, "val.txt"), (TEST, "test.txt"))
FOLDER_SPLITS = {
    "train": TRAIN,
    "training": TRAIN,
    "val": VALIDATION,
    "valid": VALIDATION,
    "validation": VALIDATION,
    "test": TEST,
    "testing": TEST,
}


def read_voc(root: Path) -> tuple[list[AnnotationRow], list[RowError], int]:
    """Parse every XML under `root` into (valid rows, row errors, number of objects + empty images)."""
    annotations = root / "Annotations"
    xml_files = sorted((annotations if annotations.is_dir() else root).rglob("*.xml"))
    image_sets = _image_sets(root)
    rows: list[AnnotationRow] = []
    errors: list[RowError] = []
    count = 0
    for xml_path in xml_files:
        source = str(xml_path)
        try:
            doc = parse_voc_xml(xml_path.read_bytes())
        except (xml.parsers.expat.ExpatError, OSError) as exc:
            errors.append(RowError(getattr(exc, "lineno", 1) or 1, f"cannot parse VOC XML ({exc})", source))
            count += 1
            continue
        if doc.get("root") != "annotation":
            root_element = f"<{doc.get('root')}>"
            problem = f"not a Pascal VOC annotation: the root element is {root_element}, not <annotation>"
            errors.append(RowError(1, problem, source))
            count += 1
            continue
        image_path = _find_image(xml_path, doc.get("filename", ""), root)
        if image_path is None:
            errors.append(
                RowError(
                    doc.get("filename_line", 1),
                    f"image {doc.get('filename') or xml_path.stem} "
                    "not found beside the XML or in JPEGImages/ or images/",
                    source,
                )
            )
            count += 1
            continue
        image_ref = _relative_ref(image_path, root)
        ml_use = image_sets.get(image_path.stem) or FOLDER_SPLITS.get(
            xml_path.parent.name.lower(), UNASSIGNED
        )
        try:
            size = _size(doc, image_path)
        except ValueError as exc:
            errors.append(RowError(doc.get("size_line", 1), str(exc), source))
            count += 1
            continue
        if not doc["objects"]:
            count += 1
            rows.append(AnnotationRow(1, source, image_ref, image_path, ml_use, None))
        for obj in doc["objects"]:
            count += 1
            try:
                box = _box(obj, size)
            except ValueError as exc:
                errors.append(RowError(obj["line"], str(exc), source))
                continue
            rows.append(AnnotationRow(obj["line"], source, image_ref, image_path, ml_use, box))
    return rows, errors, count


def parse_voc_xml(data: bytes) -> dict[str, Any]:
    """Extract filename, size and objects (with the line each <object> starts on) from VOC XML."""
    doc: dict[str, Any] = {"objects": []}
    stack: list[str] = []
    text: list[str] = []
    parser = xml.parsers.expat.ParserCreate()

    def start(name: str, _attrs: dict) -> None:
        stack.append(name)
        text.clear()
        doc.setdefault("root", name)
        if stack == ["annotation", "object"]:
            doc["objects"].append({"line": parser.CurrentLineNumber})
        elif stack == ["annotation", "filename"]:
            doc["filename_line"] = parser.CurrentLineNumber
        elif stack == ["annotation", "size"]:
            doc["size_line"] = parser.CurrentLineNumber

    def end(name: str) -> None:
        value = "".join(text).strip()
        path = stack[1:] if stack[0] == "annotation" else []  # another root is not VOC: read_voc says so
        if path == ["filename"]:
            doc["filename"] = value
        elif path in (["size", "width"], ["size", "height"]):
            doc[path[1]] = value
        elif path == ["object", "name"]:
            doc["objects"][-1]["name"] = value
        elif len(path) == 3 and path[:2] == ["object", "bndbox"]:
            doc["objects"][-1][path[2]] = value
        stack.pop()
        text.clear()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text.append
    parser.Parse(data, True)
    return doc


def _box(obj: dict[str, Any], size: tuple[float, float] | None) -> Box:
    label = obj.get("name", "")
    if not label:
        raise ValueError("object has no <name>")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in label):  # dict.txt: one label per line
        raise ValueError(f"<name> {label!r} holds a line break, tab or other control character")
    if size is None:
        raise ValueError("image size unknown: no <size> in the XML and the image cannot be read")
    width, height = size
    values = {}
    for key, extent in (("xmin", width), ("ymin", height), ("xmax", width), ("ymax", height)):
        try:
            pixel = float(obj[key])
        except (KeyError, ValueError):
            raise ValueError(f"<bndbox><{key}> {obj.get(key)!r} is missing or not a number") from None
        if not math.isfinite(pixel) or pixel < -1 or pixel > extent + 1:
            raise ValueError(f"<bndbox><{key}> {obj[key]} is outside the image (0–{extent:g})")
        values[key] = min(max(pixel / extent, 0.0), 1.0)
    xmin, ymin, xmax, ymax = values["xmin"], values["ymin"], values["xmax"], values["ymax"]
    if xmin >= xmax or ymin >= ymax:
        raise ValueError(
            f"box {label} has min ≥ max ({obj['xmin']},{obj['ymin']},{obj['xmax']},{obj['ymax']})"
        )
    if min(xmax - xmin, ymax - ymin) < MIN_BOX_EDGE - EDGE_TOLERANCE:
        raise ValueError(f"box {label} is smaller than the minimum edge {MIN_BOX_EDGE} of the image")
    return Box(label, xmin, ymin, xmax, ymax)


def _size(doc: dict[str, Any], image_path: Path) -> tuple[float, float] | None:
    """The image's (width, height) as displayed, checked against <size>; <size> alone when the image
    cannot be read (its own error is reported when the dataset is assembled), None when neither is known."""
    try:
        given: tuple[float, float] | None = float(doc["width"]), float(doc["height"])
    except (KeyError, ValueError):
        given = None
    if given is not None and not (given[0] > 0 and given[1] > 0):
        given = None
    try:
        width, height = check_image(image_path)
    except UnreadableImageError:
        return given
    if given is not None and given != (width, height):
        raise ValueError(
            f"<size> {given[0]:g}×{given[1]:g} does not match the image {image_path.name}, {width}×{height} "
            "as displayed (EXIF orientation applied): its boxes cannot be placed"
        )
    return float(width), float(height)


def _find_image(xml_path: Path, filename: str, root: Path) -> Path | None:
    folders = [xml_path.parent]
    for base in (root, root.parent):
        folders += [base / "JPEGImages", base / "images", base]
    names = [filename] if filename else []
    stem = Path(filename).stem if filename else xml_path.stem
    names += [stem + suffix for suffix in IMAGE_SUFFIXES]
    for folder in folders:
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def _image_sets(root: Path) -> dict[str, str]:
    """Image stem -> split from ImageSets/Main/{train,val,test}.txt (first listing wins)."""
    splits: dict[str, str] = {}
    for base in (root, root.parent):
        main = base / "ImageSets" / "Main"
        if not main.is_dir():
            continue
        for split, name in IMAGE_SET_FILES:
            listing = main / name
            if listing.is_file():
                for stem in listing.read_text(encoding="utf-8", errors="replace").split():
                    splits.setdefault(stem, split)
        break
    return splits


def _relative_ref(image_path: Path, root: Path) -> str:
    for base in (root, root.parent):
        try:
            return image_path.relative_to(base).as_posix()
        except ValueError:
            continue
    return image_path.as_posix()
