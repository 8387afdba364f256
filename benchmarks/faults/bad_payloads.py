"""Bad request bodies and images for the requests scenario (bad_requests.py builds the requests)."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from typing import Any

from google.cloud import automl_v1
from google.longrunning import operations_pb2

from benchmarks.faults.bad_messages import INJECTIONS

AUTOML = "google.cloud.automl.v1.AutoMl"
OPERATIONS = "google.longrunning.Operations"


def _png(width: int, height: int, rows: int = 1) -> bytes:
    """A PNG whose header declares width x height (a decompression bomb's shape) with only `rows` rows."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + b"\0" * 3 * width for _ in range(rows)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg(size: int = 64) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), (120, 30, 200)).save(out, "JPEG")
    return out.getvalue()


def bad_image(rng: random.Random, jpeg: bytes) -> bytes:
    """Empty, random or truncated bytes, decompression-bomb headers, a 1x1 PNG or a good JPEG."""
    return rng.choice(
        [
            b"",
            bytes(rng.randrange(256) for _ in range(512)),
            jpeg[: len(jpeg) // 2],
            _png(20_000, 20_000),
            _png(100_000, 1),
            _png(1, 1),
            b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0" * 20,
            jpeg,
        ]
    )


def grpc_body(rng: random.Random, parent: str, dataset: str, model: str, bad_name: str) -> tuple[str, Any]:
    """(method, request): CreateModel, CreateDataset, ImportData, ExportModel or WaitOperation with bad
    fields (an unknown dataset, an out-of-range budget, paths outside the storage root…)."""
    model_type = rng.choice(["cloud-high-accuracy-1", "mobile-nope", "", "mobile-low-latency-1"])
    budget = rng.choice([0, -1, 999, 100_001, 2**62])
    metadata = automl_v1.ImageObjectDetectionModelMetadata(
        model_type=model_type, train_budget_milli_node_hours=budget
    )
    choices = [
        (
            f"/{AUTOML}/CreateModel",
            automl_v1.CreateModelRequest(
                parent=parent,
                model=automl_v1.Model(
                    display_name=rng.choice(INJECTIONS),
                    dataset_id=f"IOD{rng.randrange(10**9)}",
                    image_object_detection_model_metadata=metadata,
                ),
            ),
        ),
        (
            f"/{AUTOML}/CreateDataset",
            automl_v1.CreateDatasetRequest(
                parent=rng.choice([parent, bad_name]),
                dataset=automl_v1.Dataset(display_name=rng.choice(["", "x" * 10_000, *INJECTIONS])),
            ),
        ),
        (
            f"/{AUTOML}/ImportData",
            automl_v1.ImportDataRequest(
                name=dataset,
                input_config=automl_v1.InputConfig(
                    gcs_source=automl_v1.GcsSource(
                        input_uris=[
                            rng.choice(
                                [
                                    "/etc/passwd",
                                    "file:///etc/hosts",
                                    "gs://b/../../../etc/passwd",
                                    "",
                                    "gs://",
                                    "http://127.0.0.1:1/x.csv",
                                ]
                            )
                        ]
                    )
                ),
            ),
        ),
        (
            f"/{AUTOML}/ExportModel",
            automl_v1.ExportModelRequest(
                name=model,
                output_config=automl_v1.ModelExportOutputConfig(
                    model_format=rng.choice(["tflite", "core_ml", "", "docker"]),
                    gcs_destination=automl_v1.GcsDestination(
                        output_uri_prefix=rng.choice(
                            ["", "gs://", "/tmp/x", "gs://b/../../../etc/", "file:///etc/"]
                        )
                    ),
                ),
            ),
        ),
        (
            f"/{OPERATIONS}/WaitOperation",
            operations_pb2.WaitOperationRequest(name=f"{parent}/operations/IOD1"),
        ),
    ]
    return rng.choice(choices)


def rest_body(
    rng: random.Random, parent: str, dataset: str, model: str
) -> tuple[str, bytes, dict, int | None]:
    """(path, body, headers, declared length) of a bad REST write: JSON nested too deep, not UTF-8, unknown
    fields, a form post, a foreign Host or Origin, a non-finite budget, JSON that is no object, or a
    Content-Length over the limit."""
    path = rng.choice(
        [
            f"/v1/{parent}/datasets",
            f"/v1/{parent}/models",
            f"/v1/{dataset}:importData",
            f"/v1/{model}:export",
            f"/v1/{model}:predict",
            f"/v1/{parent}/trainingPipelines",
        ]
    )
    variant = rng.randrange(9)
    headers = {}
    if variant == 0:
        body = b"[" * 100_000
    elif variant == 1:
        body = b'{"displayName": "\xff\xfe"}'
    elif variant == 2:
        body = json.dumps({"inputConfig": {"gcsSource": {"inputUris": ["/etc/passwd"]}}, "x": 1}).encode()
    elif variant == 3:
        body, headers = b"displayName=x", {"Content-Type": "application/x-www-form-urlencoded"}
    elif variant == 4:
        body, headers = b"{}", {"Host": "evil.example:80"}
    elif variant == 5:
        body, headers = b"{}", {"Origin": "https://evil.example"}
    elif variant == 6:
        body = json.dumps(
            {
                "imageObjectDetectionModelMetadata": {
                    "trainBudgetMilliNodeHours": rng.choice(["NaN", "1e400", -1, "x"])
                },
                "datasetId": "IOD1",
            }
        ).encode()
    elif variant == 7:
        body = rng.choice([b"null", b"5", b"true", b'"x"', b"[]", b'[{"displayName": "a"}]'])
    else:
        return path, b"{}", {}, rng.choice([43 * 2**20, 2**40])
    return path, body, headers, None
