"""Follow one dataset through the pipeline: the import, the training, the export, the notification.

The runner only observes, as a person with the status page open would: it reads the Firestore documents the
functions write (imports/, trainings/) and pulls the notifications topic. It never calls a function itself.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from edgetrain.localstack import wiring
from edgetrain.localstack.console import say
from edgetrain.localstack.errors import PipelineFailedError
from edgetrain.localstack.stack import LocalStack

READ_INTERVAL_S = 2.0
FAILED_NOTIFICATIONS = ("MODEL_REJECTED", "TRAINING_FAILED", "TRAINING_CANCELLED")
MAX_FAILURES_SHOWN = 10


class NotificationListener:
    """A pull subscription on the notifications topic; prints each notification and queues it."""

    def __init__(self, stack: LocalStack, console: Console, name: str = "localstack-runner"):
        from google.cloud import pubsub_v1

        self.console = console
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self._subscriber = pubsub_v1.SubscriberClient()
        topic = stack.topics.TOPIC_NOTIFICATIONS
        subscription = wiring.create_pull_subscription(
            self._subscriber, stack.config.project, topic, f"{topic}--{name}"
        )
        self._future = self._subscriber.subscribe(subscription, self._on_message)

    def _on_message(self, message) -> None:
        try:
            notification = json.loads(message.data)
        except ValueError:
            notification = {"type": "UNREADABLE", "raw": message.data[:200].decode(errors="replace")}
        summary = {
            k: notification.get(k) for k in ("type", "model", "stopReason", "exportLocation", "reason")
        }
        say(self.console, f"notification {json.dumps({k: v for k, v in summary.items() if v})}", "bold")
        self.received.put(notification)
        message.ack()

    def close(self) -> None:
        self._future.cancel()
        try:
            self._future.result(timeout=10)
        except Exception:  # cancelled streaming pull ends with an error by design
            pass
        self._subscriber.close()


def _first(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    return sorted(docs, key=lambda d: str(d.get("createdAt", "")), reverse=True)[0] if docs else None


class RunFollower:
    """Prints each state change of the dataset's import and training, with a progress bar for training."""

    def __init__(self, stack: LocalStack, dataset_id: str, console: Console):
        from google.cloud import firestore

        self.stack = stack
        self.dataset_id = dataset_id
        self.console = console
        self.db = firestore.Client(project=stack.config.project)
        self._seen: dict[str, Any] = {}
        self.training_id: str | None = None  # the dataset's newest training, once one exists

    def _docs(self, collection: str) -> list[dict[str, Any]]:
        query = self.db.collection(collection).where(filter=_field_filter("datasetId", "==", self.dataset_id))
        return [doc.to_dict() | {"_id": doc.id} for doc in query.stream()]

    def _report(self, key: str, value: Any, text: str) -> None:
        if self._seen.get(key) != value:
            self._seen[key] = value
            say(self.console, text)

    def wait_for_model(
        self, listener: NotificationListener, timeout_s: float, stop_asked: Callable[[], bool] = lambda: False
    ) -> Path:
        """Return the exported model.tflite once MODEL_EXPORTED arrives; raise on failure or timeout, and
        KeyboardInterrupt as soon as stop_asked() (checked between reads)."""
        deadline = time.monotonic() + timeout_s
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
        with Progress(*columns, TimeElapsedColumn(), console=self.console, transient=True) as progress:
            task = progress.add_task("waiting for the import", total=100)
            while time.monotonic() < deadline:
                if stop_asked():
                    raise KeyboardInterrupt("stop asked")
                dead = self.stack.dead_processes()
                if dead:
                    raise PipelineFailedError("stack process(es) exited: " + "; ".join(dead))
                self._observe(progress, task)
                try:
                    notification = listener.received.get(timeout=READ_INTERVAL_S)
                except queue.Empty:
                    continue
                if notification.get("dataset", "").rsplit("/", 1)[-1] != self.dataset_id:
                    continue
                self._observe(progress, task)  # report what changed since the last read (the evaluation)
                return self._model_path(notification)
        raise PipelineFailedError(
            f"no notification for dataset {self.dataset_id} within {timeout_s / 60:.0f} min"
        )

    def _observe(self, progress: Progress, task) -> None:
        imp = _first(self._docs("imports"))
        if imp:
            detail = f" ({imp['error']})" if imp.get("error") else ""
            self._report("import", imp.get("state"), f"import {imp.get('state')}{detail}")
            if imp.get("state") == "FAILED":
                raise PipelineFailedError(_import_failure(imp))
            if imp.get("state") in ("CREATING", "RUNNING"):
                progress.update(task, description="importing", completed=imp.get("progressPercent") or 0)
        training = _first(self._docs("trainings"))
        if not training:
            self._raise_if_refused(imp is None)
            return
        self.training_id = training.get("trainingId")
        state, export_state = training.get("state"), training.get("exportState")
        self._report("training", state, _training_line(training))
        if training.get("evaluation"):
            self._report("evaluation", True, _evaluation_line(training["evaluation"]))
        if export_state:
            self._report("export", export_state, f"export {export_state}")
        if state in ("CREATING", "RUNNING"):
            percent = training.get("progressPercent") or 0
            progress.update(task, description="training", completed=percent)
            # A line every 10 %: the bar is not drawn when stderr is not a terminal (logs, CI).
            self._report("training-percent", int(percent) // 10, f"training {int(percent)}%")
        elif export_state == "EXPORTING":
            exports = training.get("exports") or {}
            percent = (exports.get("tflite") or {}).get("progressPercent") or 0
            progress.update(task, description="exporting", completed=percent)

    def _raise_if_refused(self, no_import: bool) -> None:
        """The pipeline's refusal of this run's import or training request (rejected_messages) ends the run:
        nothing would follow it."""
        functions = ("import_dataset", "start_training") if no_import else ("start_training",)
        for doc in self.db.collection("rejected_messages").stream():
            refused = doc.to_dict()
            function = refused.get("function")
            if function in functions and self.dataset_id in str(refused.get("payload")):
                raise PipelineFailedError(f"{function} refused the request: {refused.get('reason')}")

    def _model_path(self, notification: dict[str, Any]) -> Path:
        kind = notification.get("type")
        if kind in FAILED_NOTIFICATIONS or kind != "MODEL_EXPORTED":
            raise PipelineFailedError(f"{kind}: {notification.get('reason') or json.dumps(notification)}")
        location = notification.get("exportLocation") or (notification.get("exportLocations") or {}).get(
            "tflite"
        )
        if not location:
            raise PipelineFailedError(
                f"MODEL_EXPORTED without an export location: {json.dumps(notification)}"
            )
        model = self.stack.local_path(location) / "model.tflite"
        if not model.is_file():
            raise PipelineFailedError(f"MODEL_EXPORTED names {location}, but {model} does not exist")
        return model.resolve()


def _import_failure(imp: dict) -> str:
    """The failed import's error, then the rows it rejected (the first few), one per line."""
    failures = imp.get("partialFailures") or []
    lines = [f"the import failed: {imp.get('error') or 'no reason recorded'}"]
    lines += [f"  {failure}" for failure in failures[:MAX_FAILURES_SHOWN]]
    if len(failures) > MAX_FAILURES_SHOWN:
        lines.append(f"  … and {len(failures) - MAX_FAILURES_SHOWN} more in the import's Firestore document")
    return "\n".join(lines)


def _training_line(training: dict[str, Any]) -> str:
    parts = [f"training {training.get('state')}"]
    for key in ("modelType", "model", "stopReason", "trainCostMilliNodeHours", "error"):
        if training.get(key):
            parts.append(f"{key}={training[key]}")
    return " ".join(parts)


def _evaluation_line(summary: dict[str, Any]) -> str:
    """The pipeline's evaluation summary (the exported model on TEST rows, VALIDATION if none) in one line."""
    parts = ["evaluation"]
    if "meanAveragePrecisionAt50" in summary:
        parts.append(f"mAP@0.5 {summary['meanAveragePrecisionAt50']:.3f}")
    if "boundingBoxMeanAveragePrecision" in summary:
        parts.append(f"boundingBoxMeanAveragePrecision {summary['boundingBoxMeanAveragePrecision']:.3f}")
    if "evaluatedBoundingBoxCount" in summary:
        parts.append(f"over {summary['evaluatedBoundingBoxCount']} boxes")
    return " ".join(parts)


def _field_filter(path: str, op: str, value: Any):
    from google.cloud.firestore_v1.base_query import FieldFilter

    return FieldFilter(path, op, value)
