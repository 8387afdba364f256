"""Seeded generator of bad requests to `edgetrain serve`: gRPC (AutoML v1, Prediction, Operations, and a
few on the Vertex AI surface) and REST, with bad names, filters, page tokens, field masks, bodies and images.

A request here is data (method or path, bytes, headers); request_faults.py sends it. None targets a real
resource destructively: deletes and cancels name resources that do not exist.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from urllib.parse import quote

from google.cloud import aiplatform_v1, automl_v1
from google.longrunning import operations_pb2
from google.protobuf import field_mask_pb2

from benchmarks.faults.bad_messages import INJECTIONS
from benchmarks.faults.bad_payloads import AUTOML, OPERATIONS, bad_image, grpc_body, jpeg, rest_body

PREDICTION = "google.cloud.automl.v1.PredictionService"
VERTEX_DATASETS = "google.cloud.aiplatform.v1.DatasetService"
VERTEX_PIPELINES = "google.cloud.aiplatform.v1.PipelineService"
KINDS = ("name", "filter", "page", "mask", "body", "image", "raw")


@dataclass(frozen=True)
class BadRequest:
    number: int
    kind: str
    transport: str  # "grpc", "rest" or "vertex_rest"
    method: str  # gRPC: /Service/Method; REST: the HTTP verb
    path: str = ""  # REST only
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None  # REST: a Content-Length larger than the body sent (never read)


class RequestGenerator:
    def __init__(self, seed: int, parent: str, dataset: str, model: str | None):
        self.rng = random.Random(seed)
        self.parent = parent
        self.dataset = dataset  # real: updates and imports on it are refused or harmless
        self.model = model or f"{parent}/models/IOD0"  # real when a model was trained: Predict decodes images
        self.jpeg = jpeg()

    def generate(self, count: int) -> list[BadRequest]:
        return [self._one(i) for i in range(count)]

    def _one(self, number: int) -> BadRequest:
        kind = KINDS[self.rng.randrange(len(KINDS))]
        transport = self.rng.choice(
            ["grpc", "grpc", "rest", "rest", "vertex_rest"] if kind != "raw" else ["grpc"]
        )
        return getattr(self, f"_{kind}")(number, transport)

    # ---- values
    def _bad_name(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                "",
                rng.choice(INJECTIONS),
                f"{self.parent}/datasets/{rng.choice(INJECTIONS)}",
                f"{self.parent}/models/ICN{rng.randrange(10**12)}",
                f"{self.parent}/operations/IOD{rng.randrange(10**12)}",
                "projects//locations//datasets/",
                f"{self.parent}/datasets/" + "9" * 5000,
                "projects/p/locations/l/" + "../" * 30 + "etc/passwd",
                f"{self.parent}/operations/" + "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
            ]
        )

    def _bad_filter(self) -> str:
        return self.rng.choice(
            [
                "done=maybe",
                "done=true AND",
                "worksOn=",
                "operation_id=='1'",
                "((((((((",
                "image_object_detection_dataset_metadata:* OR 1=1",
                "a" * 100_000,
                "state=PIPELINE_STATE_NOPE",
                'display_name="unterminated',
                self.rng.choice(INJECTIONS),
            ]
        )

    def _bad_token(self) -> str:
        return self.rng.choice(
            ["x", "-1", base64.b64encode(b'{"offset": -5}').decode(), "%%%", "9" * 400, "\u0000"]
        )

    # ---- gRPC request bytes
    def _grpc(self, number: int, kind: str, method: str, request) -> BadRequest:
        data = (
            request.SerializeToString()
            if hasattr(request, "SerializeToString")
            else type(request).serialize(request)
        )
        return BadRequest(number, kind, "grpc", method, body=data)

    def _name(self, number: int, transport: str) -> BadRequest:
        name = self._bad_name()
        if transport == "grpc":
            method, request = self.rng.choice(
                [
                    (f"/{AUTOML}/GetDataset", automl_v1.GetDatasetRequest(name=name)),
                    (f"/{AUTOML}/GetModel", automl_v1.GetModelRequest(name=name)),
                    (f"/{AUTOML}/DeleteDataset", automl_v1.DeleteDatasetRequest(name=name)),
                    (f"/{AUTOML}/DeleteModel", automl_v1.DeleteModelRequest(name=name)),
                    (f"/{AUTOML}/GetAnnotationSpec", automl_v1.GetAnnotationSpecRequest(name=name)),
                    (f"/{AUTOML}/GetModelEvaluation", automl_v1.GetModelEvaluationRequest(name=name)),
                    (f"/{AUTOML}/DeployModel", automl_v1.DeployModelRequest(name=name)),
                    (f"/{OPERATIONS}/GetOperation", operations_pb2.GetOperationRequest(name=name)),
                    (f"/{OPERATIONS}/CancelOperation", operations_pb2.CancelOperationRequest(name=name)),
                    (f"/{OPERATIONS}/DeleteOperation", operations_pb2.DeleteOperationRequest(name=name)),
                    (f"/{OPERATIONS}/WaitOperation", operations_pb2.WaitOperationRequest(name=name)),
                    (f"/{VERTEX_DATASETS}/GetDataset", aiplatform_v1.GetDatasetRequest(name=name)),
                    (
                        f"/{VERTEX_PIPELINES}/GetTrainingPipeline",
                        aiplatform_v1.GetTrainingPipelineRequest(name=name),
                    ),
                ]
            )
            return self._grpc(number, "name", method, request)
        resource = quote(name, safe="/:")
        verb = self.rng.choice(["GET", "DELETE", "POST"])
        suffix = self.rng.choice(
            ["", ":cancel", ":export", ":deploy", ":importData", ":wait", "/modelEvaluations"]
        )
        return self._rest(
            number, "name", transport, verb, f"/v1/{resource}{suffix}", b"{}" if verb == "POST" else b""
        )

    def _filter(self, number: int, transport: str) -> BadRequest:
        text = self._bad_filter()
        if transport == "grpc":
            method, request = self.rng.choice(
                [
                    (
                        f"/{OPERATIONS}/ListOperations",
                        operations_pb2.ListOperationsRequest(name=self.parent, filter=text),
                    ),
                    (
                        f"/{AUTOML}/ListDatasets",
                        automl_v1.ListDatasetsRequest(parent=self.parent, filter=text),
                    ),
                    (f"/{AUTOML}/ListModels", automl_v1.ListModelsRequest(parent=self.parent, filter=text)),
                    (
                        f"/{AUTOML}/ListModelEvaluations",
                        automl_v1.ListModelEvaluationsRequest(parent=self.model, filter=text),
                    ),
                    (
                        f"/{VERTEX_PIPELINES}/ListTrainingPipelines",
                        aiplatform_v1.ListTrainingPipelinesRequest(parent=self.parent, filter=text),
                    ),
                ]
            )
            return self._grpc(number, "filter", method, request)
        collection = self.rng.choice(["operations", "datasets", "models", "trainingPipelines"])
        return self._rest(
            number, "filter", transport, "GET", f"/v1/{self.parent}/{collection}?filter={quote(text)}"
        )

    def _page(self, number: int, transport: str) -> BadRequest:
        token, size = self._bad_token(), self.rng.choice([-1, 0, 2**31 - 1, 10**6])
        if transport == "grpc":
            method, request = self.rng.choice(
                [
                    (
                        f"/{OPERATIONS}/ListOperations",
                        operations_pb2.ListOperationsRequest(
                            name=self.parent, page_token=token, page_size=size
                        ),
                    ),
                    (
                        f"/{AUTOML}/ListDatasets",
                        automl_v1.ListDatasetsRequest(parent=self.parent, page_token=token, page_size=size),
                    ),
                    (
                        f"/{AUTOML}/ListModels",
                        automl_v1.ListModelsRequest(parent=self.parent, page_token=token, page_size=size),
                    ),
                ]
            )
            return self._grpc(number, "page", method, request)
        collection = self.rng.choice(["operations", "datasets", "models", "trainingPipelines"])
        size_text = self.rng.choice([str(size), "abc", "1e3", "-0", ""])
        path = f"/v1/{self.parent}/{collection}?pageToken={quote(token)}&pageSize={size_text}"
        return self._rest(number, "page", transport, "GET", path)

    def _mask(self, number: int, transport: str) -> BadRequest:
        paths = self.rng.sample(
            [
                "display_name",
                "labels",
                "name",
                "example_count",
                "nope",
                "a.b.c",
                "",
                "*",
                "labels.x",
                "..",
                "etag",
            ],
            k=self.rng.randrange(1, 4),
        )
        if transport == "grpc":
            dataset = automl_v1.Dataset(name=self.dataset, display_name=self.rng.choice(INJECTIONS))
            request = automl_v1.UpdateDatasetRequest(
                dataset=dataset, update_mask=field_mask_pb2.FieldMask(paths=paths)
            )
            if self.rng.random() < 0.5:
                model = automl_v1.Model(name=self.model, display_name=self.rng.choice(INJECTIONS))
                request = automl_v1.UpdateModelRequest(
                    model=model, update_mask=field_mask_pb2.FieldMask(paths=paths)
                )
                return self._grpc(number, "mask", f"/{AUTOML}/UpdateModel", request)
            return self._grpc(number, "mask", f"/{AUTOML}/UpdateDataset", request)
        body = json.dumps({"displayName": self.rng.choice(INJECTIONS), "labels": {"k": "v" * 300}}).encode()
        path = f"/v1/{self.dataset}?updateMask={quote(','.join(paths))}"
        return self._rest(number, "mask", transport, "PATCH", path, body)

    def _body(self, number: int, transport: str) -> BadRequest:
        if transport == "grpc":
            method, request = grpc_body(self.rng, self.parent, self.dataset, self.model, self._bad_name())
            return self._grpc(number, "body", method, request)
        path, body, headers, declared = rest_body(self.rng, self.parent, self.dataset, self.model)
        return self._rest(number, "body", transport, "POST", path, body, headers, declared)

    def _image(self, number: int, transport: str) -> BadRequest:
        rng = self.rng
        image = bad_image(rng, self.jpeg)
        params = {
            "score_threshold": rng.choice(["0.5", "NaN", "-1", "2", "x"]),
            "max_bounding_box_count": rng.choice(["5", "inf", "-3", "1e9", "x"]),
        }
        if transport == "grpc":
            request = automl_v1.PredictRequest(
                name=rng.choice([self.model, self._bad_name()]),
                payload=automl_v1.ExamplePayload(image=automl_v1.Image(image_bytes=image)),
                params=params,
            )
            return self._grpc(number, "image", f"/{PREDICTION}/Predict", request)
        body = json.dumps(
            {
                "payload": {
                    "image": {"imageBytes": rng.choice([base64.b64encode(image).decode(), "!!", 12])}
                },
                "params": params,
            }
        ).encode()
        return self._rest(number, "image", "rest", "POST", f"/v1/{self.model}:predict", body)

    def _raw(self, number: int, transport: str) -> BadRequest:
        rng = self.rng
        method = rng.choice(
            [
                f"/{AUTOML}/CreateModel",
                f"/{AUTOML}/ListDatasets",
                f"/{PREDICTION}/Predict",
                f"/{OPERATIONS}/ListOperations",
                f"/{AUTOML}/NoSuchMethod",
                "/no.such.Service/Get",
                f"/{VERTEX_DATASETS}/ImportData",
            ]
        )
        body = rng.choice(
            [
                bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
                b"\x0a\xff\xff\xff\xff\x0f",  # a length-delimited field longer than the message
                b"\x08" + b"\xff" * 10,  # a varint that never ends
                b"\x0a\x05" + "é".encode() + b"\xff\xfe\xfd",  # a string field that is not UTF-8
            ]
        )
        return BadRequest(number, "raw", "grpc", method, body=body)

    def _rest(
        self, number, kind, transport, verb, path, body=b"", headers=None, declared_length=None
    ) -> BadRequest:
        if transport == "vertex_rest" and "trainingPipelines" not in path and self.rng.random() < 0.5:
            transport = "rest"
        base = {"Content-Type": "application/json"} if body else {}
        return BadRequest(number, kind, transport, verb, path, body, base | (headers or {}), declared_length)
