"""The retraining benchmark's view of the local stack: publish a round's import request as upstream does,
wait for the training the pipeline starts and decides, and read what it recorded (Firestore trainings/, the
model's labels through GetModel)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.retrain_rounds import map_at

BASE_MODEL_LABEL = "edgetrain-base-model"  # on the trained model: it started from that model's weights
FINAL_EXPORT_STATES = ("EXPORTED", "REJECTED", "EXPORT_FAILED")
SECONDS_PER_MILLI_NODE_HOUR = 3.6


class PipelineDriver:
    """Drives a started LocalStack as upstream would and reads what the pipeline recorded."""

    def __init__(self, stack, timeout_s: float, deadline: float):
        import grpc
        from google.cloud import automl_v1, firestore
        from google.cloud.automl_v1.services.auto_ml.transports import AutoMlGrpcTransport

        self.stack, self.timeout_s, self.deadline = stack, timeout_s, deadline
        self.db = firestore.Client(project=stack.config.project)
        self.channel = grpc.insecure_channel(stack.service.grpc_target)
        self.automl = automl_v1.AutoMlClient(transport=AutoMlGrpcTransport(channel=self.channel))

    def docs(self, collection: str, field: str, value: str) -> list[dict[str, Any]]:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.db.collection(collection).where(filter=FieldFilter(field, "==", value))
        return [doc.to_dict() | {"_id": doc.id} for doc in query.stream()]

    def drive(self, dataset: str, csv_path: Path, request_id: str) -> tuple[dict[str, Any], float]:
        """Publish the import request as upstream does; the training it led to once decided, and the seconds
        from the request to the decision (export included when promoted)."""
        from edgetrain.localstack import upstream

        dataset_id = dataset.rsplit("/", 1)[-1]
        seen = {doc["_id"] for doc in self.docs("trainings", "datasetId", dataset_id)}
        started = time.monotonic()
        request = upstream.import_request(dataset, str(csv_path), request_id)
        self.stack.publish(self.stack.topics.TOPIC_IMPORT_REQUESTS, request, origin="retrain-bench")
        while time.monotonic() - started < self.timeout_s:
            if time.monotonic() > self.deadline:
                raise RuntimeError(f"{request_id}: stopped at --stop-after, the round unfinished")
            if self.stack.dead_processes():
                raise RuntimeError("stack process(es) exited: " + "; ".join(self.stack.dead_processes()))
            for imp in self.docs("imports", "key", request_id):
                if imp.get("state") == "FAILED":
                    raise RuntimeError(f"import {request_id} failed: {imp.get('error')}")
            for doc in self.docs("trainings", "datasetId", dataset_id):
                if doc["_id"] in seen:
                    continue
                if doc.get("state") in ("FAILED", "CANCELLED"):
                    raise RuntimeError(f"training {doc['_id']} {doc['state']}: {doc.get('error')}")
                if doc.get("exportState") in FINAL_EXPORT_STATES:
                    return doc, time.monotonic() - started
            time.sleep(3)
        raise RuntimeError(f"{request_id}: no decided training within {self.timeout_s / 60:.0f} min")

    def round_record(self, training: dict[str, Any], round_wall_s: float, cap: float) -> dict[str, Any]:
        model = self.automl.get_model(name=training["model"])
        evaluation, comparison = training.get("evaluation") or {}, training.get("comparison") or {}
        champion = comparison.get("championEvaluation")
        map50, map5095 = map_at(evaluation)
        champion50, champion5095 = map_at(champion)
        return {
            "training": training["_id"],
            "model": training["model"].rsplit("/", 1)[-1],
            "start": "warm" if model.labels.get(BASE_MODEL_LABEL) else "cold",
            "base_model": model.labels.get(BASE_MODEL_LABEL),
            "max_train_seconds": cap,
            "stop_reason": training.get("stopReason"),
            "train_wall_s": round(
                (training.get("trainCostMilliNodeHours") or 0) * SECONDS_PER_MILLI_NODE_HOUR
            ),
            "round_wall_s": round(round_wall_s),
            "map50": map50,
            "map50_95": map5095,
            "test_images": evaluation.get("imageCount"),
            "test_digest": evaluation.get("testImagesDigest"),
            "latency_ms": training.get("latencyMs"),
            "champion_model": (comparison.get("championModel") or "").rsplit("/", 1)[-1] or None,
            "champion_map50": champion50,
            "champion_map50_95": champion5095,
            "champion_test_digest": (champion or {}).get("testImagesDigest"),
            "champion_latency_ms": comparison.get("championLatencyMs"),
            "same_images": comparison.get("sameImages"),
            "promoted": bool(training.get("promoted")),
            "decided_by": training.get("decidedBy") or comparison.get("decidedBy"),
            "reason": training.get("championReason"),
            "labels": comparison.get("labels"),
        }

    def restart_service(self, overrides: dict[str, Any]) -> None:
        """`edgetrain serve` again on the same data and ports, with other trainer overrides."""
        service = self.stack.service
        service.stop(timeout=60)
        service.trainer_overrides = overrides
        service.start()
