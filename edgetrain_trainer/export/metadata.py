"""TF Lite Metadata inside model.tflite, as Model Maker and AutoML Vision Edge exports carry it.

With it, the TF Lite Task Library's ObjectDetector, ML Kit and Android Studio's model binding read the model
without extra configuration: the labels (dict.txt, packed into the file), the input's colour space and
normalization, and which output holds the boxes (and in which coordinate order), classes, scores and count.

The writer is tflite-support's. `make setup` installs it with --no-deps: its metadata pins protobuf < 4, which
TF 2.21 and the Google Cloud clients cannot use, but the metadata writer itself needs only flatbuffers.
Its public alias `tflite_support.metadata_writers` cannot be imported for the same reason (the package's
__init__ loads the Task Library's protobuf modules), so the implementation modules are imported directly.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from pathlib import Path

from ..model.backbones import BACKBONES
from ..model.catalog import ModelTypeSpec


def _load_libusb() -> None:
    """tflite-support's metadata extension is linked against libusb-1.0.so.0 (a build artifact: it never
    calls it). Where the system has none, load the copy in the libusb-package wheel first: the dynamic
    loader then finds it by its soname when the extension is imported."""
    if ctypes.util.find_library("usb-1.0"):
        return
    try:
        import libusb_package
    except ImportError:
        return  # the import below then fails with the message that says how to install
    library = libusb_package.get_library_path()
    if library is not None:
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)


_load_libusb()
try:
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as _metadata_fb
    from tensorflow_lite_support.metadata.python import metadata as _metadata
    from tensorflow_lite_support.metadata.python.metadata_writers import (
        metadata_info,
        object_detector,
        writer_utils,
    )
except ImportError as error:  # a hand-made install of edgetrain[ml] without make setup's extra step
    raise ImportError(
        "writing TF Lite Metadata needs tflite-support, installed without its dependencies: "
        f"pip install --no-deps tflite-support==0.4.4 (make setup does this); the import failed with: {error}"
    ) from error


def with_metadata(
    tflite_model: bytes, spec: ModelTypeSpec, label_file: Path, classes_per_box: int = 1
) -> bytes:
    """`tflite_model` (uint8 input; outputs boxes, classes, scores, count in the post-processing op's order,
    see tflite_outputs.py) with TF Lite Metadata: name, description (with the entries per box,
    `classes_per_box`) and the backbone weights' licence; raw 0–255 RGB input (mean 0, std 1); what each
    output holds; `label_file` (dict.txt) packed in."""
    labels = label_file.read_text().splitlines()
    writer = object_detector.MetadataWriter.create_from_metadata_info(
        tflite_model,
        general_md=metadata_info.GeneralMd(
            name=spec.name,
            description=(
                f"Object detector ({spec.backbone} backbone, {spec.input_size} px input) for "
                f"{len(labels)} labels, trained by edgetrain."
                + (
                    f" Each detected box fills {classes_per_box} consecutive entries, one per class of its "
                    f"top {classes_per_box}, best first; 'number of detections' counts boxes."
                    if classes_per_box > 1
                    else ""
                )
            ),
            author="edgetrain",
            licenses=f"Backbone weights: {BACKBONES[spec.backbone].licence}",
        ),
        input_md=metadata_info.InputImageTensorMd(
            name="image",
            description="RGB image, 0-255, stretched to the input size.",
            norm_mean=[0.0],
            norm_std=[1.0],
            color_space_type=_metadata_fb.ColorSpaceType.RGB,
            tensor_type=writer_utils.get_input_tensor_types(tflite_model)[0],
        ),
        # The other outputs keep the writer's default names: the Task Library finds outputs by them.
        output_category_md=metadata_info.CategoryTensorMd(
            name="category",
            description="Class ids of the detected boxes (line numbers of dict.txt, from 0).",
            label_files=[metadata_info.LabelFileMd(file_path=str(label_file))],
        ),
    )
    return writer.populate()


def read_metadata(tflite_model: bytes) -> tuple[dict, dict[str, bytes]]:
    """(the metadata as a JSON object, the packed files by name) of a model that carries TF Lite Metadata."""
    displayer = _metadata.MetadataDisplayer.with_model_buffer(tflite_model)
    names = displayer.get_packed_associated_file_list()
    files = {name: displayer.get_associated_file_buffer(name) for name in names}
    return json.loads(displayer.get_metadata_json()), files
