"""Scenario: every event of one training's life delivered many times over, some deliveries concurrent.

The import request, the dataset-imported event the poller publishes, the training-finished event and a poll
tick are each delivered `copies` more times as Pub/Sub redeliveries look (same message id and data, POSTed
to the function; a third of them at once). Figures, each must be 1: ImportData calls for the dataset,
trainings started on it, ExportModel calls per export format, notifications sent for the training.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.faults import service_view
from benchmarks.faults.push import post, push_body
from benchmarks.faults.stack import FaultStack, wait_until
from benchmarks.interrupts import map_in_threads
from edgetrain.localstack import wiring

STEP_TIMEOUT_S = 600.0
QUIET_S = 15.0  # after the notification: time for a duplicate one to show up


class _Topic:
    """A pull subscription on one of the pipeline's topics: the messages it published, with their ids."""

    def __init__(self, stack: FaultStack, topic: str, name: str):
        self.stack = stack
        self.subscriber = stack.local._subscriber
        self.path = wiring.create_pull_subscription(self.subscriber, stack.project, topic, name)
        self.seen: list[tuple[str, dict]] = []

    def pull(self) -> list[tuple[str, dict]]:
        response = self.subscriber.pull(subscription=self.path, max_messages=100, timeout=10)
        ids = [m.ack_id for m in response.received_messages]
        if ids:
            self.subscriber.acknowledge(subscription=self.path, ack_ids=ids)
        for m in response.received_messages:
            self.seen.append((m.message.message_id, json.loads(m.message.data)))
        return self.seen

    def first(self, predicate, timeout_s: float = STEP_TIMEOUT_S) -> tuple[str, dict]:
        found = wait_until(
            lambda: next((item for item in self.pull() if predicate(item[1])), None), timeout_s, 1
        )
        if found is None:
            raise TimeoutError(f"no message on {self.path} after {timeout_s:.0f} s")
        return found


def deliver(stack: FaultStack, function: str, data: bytes, message_id: str, copies: int) -> list[int]:
    """POST the same push `copies` times: the first third one after another, the rest 10 at a time."""
    body = push_body(data, message_id)
    url, path = stack.function_url(function), stack.push_path(function)
    sequential = copies // 3
    statuses = [post(url, path, body) for _ in range(sequential)]
    statuses += map_in_threads(lambda _: post(url, path, body), range(copies - sequential), workers=10)
    return statuses


def run(stack: FaultStack, copies: int) -> dict[str, Any]:
    started = time.monotonic()
    topics = stack.topics
    imported = _Topic(stack, topics.TOPIC_DATASET_IMPORTED, "faults-dataset-imported")
    finished = _Topic(stack, topics.TOPIC_TRAINING_FINISHED, "faults-training-finished")
    notified = _Topic(stack, topics.TOPIC_NOTIFICATIONS, "faults-notifications")
    dataset = stack.create_dataset("duplicates")
    dataset_id = dataset.rsplit("/", 1)[-1]
    csv_uri = stack.sample_csv("duplicates", {"TRAIN": 8, "VALIDATION": 4, "TEST": 4})
    statuses: list[int] = []

    request = json.dumps({"schemaVersion": 1, "dataset": dataset, "inputUris": [csv_uri]}).encode()
    message_id = stack.publish("import_dataset", request)
    statuses += deliver(stack, "import_dataset", request, message_id, copies)

    message_id, event = imported.first(lambda m: m.get("dataset") == dataset)
    statuses += deliver(stack, "start_training", json.dumps(event).encode(), message_id, copies)

    message_id, event = finished.first(lambda m: m.get("dataset") == dataset)
    training_id = event["trainingId"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        exports = pool.submit(
            deliver, stack, "export_and_notify", json.dumps(event).encode(), message_id, copies
        )
        ticks = pool.submit(deliver, stack, "poll_operations", b"{}", f"faults-tick-{training_id}", copies)
        statuses += exports.result() + ticks.result()

    notified.first(lambda m: m.get("trainingId") == training_id)
    time.sleep(QUIET_S)
    notified.pull()
    ops = service_view.operations(stack)
    imports = [o for o in service_view.operations(stack, f"worksOn={dataset}") if o.kind == "import"]
    trainings = [o for o in ops if o.kind == "train" and o.model_dataset == dataset_id]
    model = (stack.doc("trainings", training_id) or {}).get("model") or ""
    exports_made = [o for o in service_view.operations(stack, f"worksOn={model}") if o.kind == "export"]
    formats = len((stack.doc("trainings", training_id) or {}).get("exports") or {}) or 1
    return {
        "copies": copies,
        "imports_made": len(imports),
        "trainings_started": len(trainings),
        "exports_made": len(exports_made),
        "export_formats": formats,
        "notifications_sent": sum(m.get("trainingId") == training_id for _, m in notified.seen),
        "notification_types": sorted(
            {m.get("type") for _, m in notified.seen if m.get("trainingId") == training_id}
        ),
        "firestore_trainings": len(stack.docs("trainings", "datasetId", dataset_id)),
        "nacked": sum(s >= 500 for s in statuses),  # "another delivery is being handled": deliver again
        "unanswered": sum(s == 0 for s in statuses),
        "deliveries": len(statuses),
        "seconds": round(time.monotonic() - started, 1),
        "model": model,  # for the requests scenario's Predict calls; not a figure
    }
