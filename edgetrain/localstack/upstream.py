"""What an upstream system does before the pipeline takes over: create the dataset, publish the data.

The dataset is created through the official client of the backend the functions speak (AutoML v1 or Vertex
AI), exactly as against Google (only the channel differs); the import request goes to the import-requests
topic in the schema import_dataset validates (ImportRequest). For Vertex AI the AutoML CSV is rewritten first
into Vertex's JSON Lines import file, with its images in the service's storage (Vertex imports gs:// only).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

from edgetrain.localstack.errors import LocalStackError

IMPORT_SCHEMA_VERSION = 1
VERTEX_IMAGE_METADATA_SCHEMA = "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml"
VERTEX_ML_USE = {"TRAIN": "training", "VALIDATION": "validation", "TEST": "test"}  # UNASSIGNED: none
VERTEX_ML_USE_LABEL = "aiplatform.googleapis.com/ml_use"


def display_name_for(csv_path: Path) -> str:
    """An AutoML display name (letters, digits, _; ≤ 32; starts with a letter) from the CSV folder name."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", Path(csv_path).resolve().parent.name)[:32]
    return name if name[:1].isalpha() else ("d" + name)[:32]


def check_csv(csv_path: Path) -> Path:
    """The CSV as an absolute path, after the checks that make a clear error before any process starts."""
    path = Path(csv_path).resolve()
    if path.suffix.lower() != ".csv":
        raise LocalStackError(f"--data {csv_path}: must be an AutoML import CSV (*.csv)")
    if not path.is_file():
        raise LocalStackError(f"--data {csv_path}: no such file")
    with open(path, newline="") as handle:
        first = next(csv.reader(handle), None)
    if not first or len(first) < 2:
        raise LocalStackError(f"--data {csv_path}: empty, or not ML_USE,IMAGE_PATH,LABEL,... rows")
    return path


def create_dataset(
    grpc_target: str, project: str, location: str, display_name: str, backend: str = "automl-v1"
) -> str:
    """Create an image object-detection dataset in the service at grpc_target; returns its resource name."""
    if backend == "vertex-ai":
        return _create_vertex_dataset(grpc_target, project, location, display_name)
    import grpc
    from google.cloud import automl_v1
    from google.cloud.automl_v1.services.auto_ml.transports import AutoMlGrpcTransport

    channel = grpc.insecure_channel(grpc_target)
    try:
        client = automl_v1.AutoMlClient(transport=AutoMlGrpcTransport(channel=channel))
        operation = client.create_dataset(
            parent=f"projects/{project}/locations/{location}",
            dataset={"display_name": display_name, "image_object_detection_dataset_metadata": {}},
        )
        return operation.result(timeout=120).name
    finally:
        channel.close()


def _create_vertex_dataset(grpc_target: str, project: str, location: str, display_name: str) -> str:
    import grpc
    from google.cloud import aiplatform_v1
    from google.cloud.aiplatform_v1.services.dataset_service.transports import DatasetServiceGrpcTransport

    channel = grpc.insecure_channel(grpc_target)
    try:
        client = aiplatform_v1.DatasetServiceClient(transport=DatasetServiceGrpcTransport(channel=channel))
        operation = client.create_dataset(
            parent=f"projects/{project}/locations/{location}",
            dataset={"display_name": display_name, "metadata_schema_uri": VERTEX_IMAGE_METADATA_SCHEMA},
        )
        return operation.result(timeout=120).name
    finally:
        channel.close()


def vertex_import_file(csv_path: Path, storage_root: Path, uri_prefix: str) -> str:
    """Rewrite an AutoML import CSV as Vertex's JSON Lines (one image per line, its boxes, its ML_USE as the
    aiplatform.googleapis.com/ml_use label) and copy its images, both under uri_prefix (gs://BUCKET/PATH,
    stored at storage_root/BUCKET/PATH); the JSONL's URI. Image paths are relative to the CSV or absolute.
    A missing image keeps its line (the import reports it, as it does for the AutoML CSV)."""
    bucket_path = uri_prefix.removeprefix("gs://").rstrip("/")
    folder = Path(storage_root) / bucket_path
    (folder / "images").mkdir(parents=True, exist_ok=True)
    images: dict[str, dict] = {}
    with open(csv_path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if len(row) < 2 or not row[1].strip():
                continue
            use, image = row[0].strip().upper(), row[1].strip()
            if image not in images:
                source = Path(image) if Path(image).is_absolute() else Path(csv_path).parent / image
                name = f"{len(images):05d}_{source.name}"
                if source.is_file():
                    shutil.copy(source, folder / "images" / name)
                uri = f"gs://{bucket_path}/images/{name}"
                images[image] = {"imageGcsUri": uri, "boundingBoxAnnotations": []}
                if use in VERTEX_ML_USE:
                    images[image]["dataItemResourceLabels"] = {VERTEX_ML_USE_LABEL: VERTEX_ML_USE[use]}
            if len(row) >= 9 and row[2].strip():
                try:
                    corners = [float(row[i]) for i in (3, 4, 7, 8)]
                except ValueError:
                    raise LocalStackError(f"{csv_path} line {number}: box corners are not numbers") from None
                box = dict(zip(("xMin", "yMin", "xMax", "yMax"), corners, strict=True))
                images[image]["boundingBoxAnnotations"].append({"displayName": row[2].strip(), **box})
    (folder / "import.jsonl").write_text("".join(json.dumps(line) + "\n" for line in images.values()))
    return f"gs://{bucket_path}/import.jsonl"


def import_request(dataset_name: str, csv_uri: str, request_id: str) -> dict:
    """The message import_dataset expects on the import-requests topic."""
    return {
        "schemaVersion": IMPORT_SCHEMA_VERSION,
        "dataset": dataset_name,
        "inputUris": [csv_uri],
        "requestId": request_id,
    }
