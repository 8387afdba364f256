"""The real local stack the fault scenarios run against (edgetrain.localstack.LocalStack: the official
Pub/Sub and Firestore emulators, `edgetrain serve`, every function under functions-framework), with every
push subscription routed through a PushRelay so that each answer a function gives is seen."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import grpc
from google.cloud import automl_v1, firestore
from google.cloud.automl_v1.services.auto_ml.transports import AutoMlGrpcTransport

from benchmarks.faults.push import PushRelay
from edgetrain.localstack import EXPORT_BUCKET
from edgetrain.localstack.stack import LocalStack, StackConfig
from edgetrain.sample_data import BCCD_SAMPLE_CSV

# The service tests' trainer settings (tests/service/conftest.py TINY_TRAINER): a training takes seconds.
TINY_TRAINER = {
    "max_epochs": 1,
    "max_train_images": 8,
    "max_eval_images": 4,
    "patience": 1,
    "finetune": False,
    "cache_views": 1,
    "input_size": 128,
    "calibration_images": 4,
    "threads": 1,
    "score_threshold": 0.01,
}
FUNCTION_ENV = {
    "DEFAULT_MODEL_TYPE": "mobile-low-latency-1",
    "DEFAULT_BUDGET_MILLI_NODE_HOURS": "1000",
    "RETAIN_MODELS": "1000",  # retention must not delete the models the kill scenario counts
    "CREATE_LEASE_S": "20",
}


class FaultStack:
    def __init__(self, run_dir: Path, poll_interval_s: float = 2.0):
        self.run_dir = Path(run_dir)
        self.local = LocalStack(
            StackConfig(
                run_dir=self.run_dir,
                trainer_overrides=TINY_TRAINER,
                poll_interval_s=poll_interval_s,
                function_env=FUNCTION_ENV,
            )
        )
        self.relay: PushRelay | None = None
        self._firestore: firestore.Client | None = None
        self._channel: grpc.Channel | None = None
        self._automl: automl_v1.AutoMlClient | None = None

    # ---- lifecycle
    def start(self) -> FaultStack:
        self.local.start()
        targets = {name: f.url for name, f in self.local.functions.items()}
        self.relay = PushRelay(targets).start()
        subscriber = self.local._subscriber
        project = self.local.config.project
        for function, topic in self.topics.PUBSUB_TRIGGERS.items():
            subscription = subscriber.subscription_path(project, f"{topic}--{function}".replace("_", "-"))
            endpoint = f"{self.relay.url}/{function}/projects/{project}/topics/{topic}"
            subscriber.modify_push_config(subscription=subscription, push_config={"push_endpoint": endpoint})
        return self

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self.relay is not None:
            self.relay.stop()
        self.local.stop()

    def __enter__(self) -> FaultStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- parts
    @property
    def topics(self):
        return self.local.topics

    @property
    def project(self) -> str:
        return self.local.config.project

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.local.config.location}"

    @property
    def service(self):
        return self.local.service

    def function_url(self, function: str) -> str:
        return self.local.functions[function].url

    def push_path(self, function: str) -> str:
        topic = self.topics.PUBSUB_TRIGGERS[function]
        return f"/projects/{self.project}/topics/{topic}"

    @property
    def firestore(self) -> firestore.Client:
        if self._firestore is None:
            self._firestore = firestore.Client(project=self.project)
        return self._firestore

    @property
    def automl(self) -> automl_v1.AutoMlClient:
        """A gRPC client of the service; reopened after a restart (same ports)."""
        if self._automl is None:
            self._channel = grpc.insecure_channel(self.service.grpc_target)
            self._automl = automl_v1.AutoMlClient(transport=AutoMlGrpcTransport(channel=self._channel))
        return self._automl

    def reconnect(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._automl = None

    def publish(self, function: str, data: bytes, **attributes: str) -> str:
        """Publish raw bytes to the topic that triggers `function`; the message id."""
        topic = self.local.topic_path(self.topics.PUBSUB_TRIGGERS[function])
        return self.local.publisher.publish(topic, data, **attributes).result(timeout=60)

    def doc(self, collection: str, doc_id: str) -> dict | None:
        snap = self.firestore.collection(collection).document(doc_id).get()
        return snap.to_dict() if snap.exists else None

    def docs(self, collection: str, field: str | None = None, value=None) -> list[dict]:
        query = self.firestore.collection(collection)
        if field is not None:
            query = query.where(filter=firestore.FieldFilter(field, "==", value))
        return [s.to_dict() | {"_id": s.id} for s in query.stream()]

    def dead_processes(self) -> list[str]:
        return self.local.dead_processes()

    # ---- data
    def sample_csv(self, name: str, per_split: dict[str, int]) -> str:
        """The first images of each split of the bundled BCCD sample under gs://EXPORT_BUCKET/faults/<name>/
        with an AutoML import CSV naming them; returns the CSV's gs:// URI."""
        rows = list(csv.reader(BCCD_SAMPLE_CSV.open(newline="")))
        chosen: dict[str, list[str]] = {use: [] for use in per_split}
        for row in rows:
            images = chosen.get(row[0])
            if images is not None and row[1] not in images and len(images) < per_split[row[0]]:
                images.append(row[1])
        keep = {image for images in chosen.values() for image in images}
        folder = self.service.storage_root / EXPORT_BUCKET / "faults" / name
        (folder / "images").mkdir(parents=True, exist_ok=True)
        for image in keep:
            shutil.copy(BCCD_SAMPLE_CSV.parent / image, folder / image)
        prefix = f"gs://{EXPORT_BUCKET}/faults/{name}"
        with (folder / "import.csv").open("w", newline="") as out:
            csv.writer(out).writerows([r[0], f"{prefix}/{r[1]}", *r[2:]] for r in rows if r[1] in keep)
        return f"{prefix}/import.csv"

    def create_dataset(self, display_name: str) -> str:
        dataset = {"display_name": display_name, "image_object_detection_dataset_metadata": {}}
        return self.automl.create_dataset(parent=self.parent, dataset=dataset).result(timeout=120).name

    def imported_dataset(self, display_name: str, csv_uri: str) -> str:
        """A dataset imported directly through the service (not the pipeline)."""
        name = self.create_dataset(display_name)
        config = {"gcs_source": {"input_uris": [csv_uri]}}
        self.automl.import_data(name=name, input_config=config).result(timeout=300)
        return name


def wait_until(predicate, timeout_s: float, interval_s: float = 0.5):
    """predicate()'s first truthy value, or None after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)
