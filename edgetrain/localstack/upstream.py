"""What an upstream system does before the pipeline takes over: create the AutoML dataset, publish the data.

The dataset is created through the official client, exactly as against Google (only the channel differs);
the import request goes to the import-requests topic in the schema import_dataset validates (ImportRequest).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from edgetrain.localstack.errors import LocalStackError

IMPORT_SCHEMA_VERSION = 1


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


def create_dataset(grpc_target: str, project: str, location: str, display_name: str) -> str:
    """Create an image object-detection dataset in the service at grpc_target; returns its resource name."""
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


def import_request(dataset_name: str, csv_uri: str, request_id: str) -> dict:
    """The message import_dataset expects on the import-requests topic."""
    return {
        "schemaVersion": IMPORT_SCHEMA_VERSION,
        "dataset": dataset_name,
        "inputUris": [csv_uri],
        "requestId": request_id,
    }
