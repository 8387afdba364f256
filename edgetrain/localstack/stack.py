"""The local stack: emulators, `edgetrain serve`, one functions-framework process per function, the Pub/Sub
wiring between them and the scheduler loop — all on 127.0.0.1, the same wiring as the cloud.

    stack = LocalStack(StackConfig(run_dir=Path("var/localstack/run1")))
    try:
        stack.start(on_step=print)
        ...  # stack.urls(), stack.publish(topic, payload)
    finally:
        stack.stop()

Everything logs to a file under run_dir; stop() ends every process it started, whatever state start() reached.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from edgetrain.localstack import (
    BACKENDS,
    DEFAULT_FUNCTIONS_SOURCE,
    EXPORT_BUCKET,
    PROGRESS_URI_PREFIX,
    emulators,
    wiring,
)
from edgetrain.localstack.errors import LocalStackError
from edgetrain.localstack.functions import FunctionProcess, start_function
from edgetrain.localstack.processes import free_port
from edgetrain.localstack.scheduler import SchedulerLoop


@dataclass
class StackConfig:
    run_dir: Path
    project: str = emulators.DEFAULT_PROJECT
    location: str = "us-central1"
    functions_source: Path = DEFAULT_FUNCTIONS_SOURCE
    trainer_overrides: dict[str, Any] | None = None  # passed to `edgetrain serve --trainer-overrides`
    poll_interval_s: float = 10.0  # Cloud Scheduler's tick (every minute in the cloud)
    function_env: dict[str, str] = field(default_factory=dict)  # extra settings for the functions (config.py)
    backend: str = "automl-v1"  # which API the functions speak to `edgetrain serve` (BACKENDS)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise LocalStackError(f"backend {self.backend!r}: must be one of {', '.join(BACKENDS)}")

    allow_local_dirs: tuple[Path, ...] = ()  # folders `edgetrain serve` may import from


def load_topics(functions_source: Path) -> ModuleType:
    """functions/edgetrain_pipeline/topics.py (the topic contract), loaded without importing the package."""
    path = Path(functions_source).parent / "edgetrain_pipeline" / "topics.py"
    if not path.is_file():
        raise LocalStackError(f"{path} not found: --functions-source must be the pipeline's main.py")
    spec = importlib.util.spec_from_file_location("_edgetrain_pipeline_topics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LocalStack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.run_dir = Path(config.run_dir).resolve()
        self.topics = load_topics(config.functions_source)
        self.pubsub: emulators.Emulator | None = None
        self.firestore: emulators.Emulator | None = None
        self.service = None  # edgetrain_service.process.ServiceProcess
        self.functions: dict[str, FunctionProcess] = {}
        self.scheduler: SchedulerLoop | None = None
        self.publisher = None
        self._subscriber = None

    # ---- start
    def start(self, on_step: Callable[[str], None] = lambda _message: None) -> LocalStack:
        """Start everything and wire it; on any failure stop what was started and raise."""
        try:
            self._start(on_step)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, on_step: Callable[[str], None]) -> None:
        from edgetrain_service.process import ServiceProcess  # the service package is another team's

        self.run_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        pubsub_port, firestore_port = free_port(), free_port()
        self.service = ServiceProcess(
            data_dir=self.run_dir / "service",
            trainer_overrides=self.config.trainer_overrides or None,
            grpc_port=free_port(),
            rest_port=free_port(),
            allow_local_dirs=self.config.allow_local_dirs,
            extra_args=["--progress-uri-prefix", PROGRESS_URI_PREFIX],
        )
        # The functions read their settings once, lazily: every address is known before anything is up.
        env = self.function_env(pubsub_port, firestore_port, self.service.ports[0])
        on_step("starting the Pub/Sub and Firestore emulators, edgetrain serve and the functions")
        # Launch everything first, then wait: the processes start up in parallel. Each is recorded before
        # anything blocks, so an interrupt at any point leaves stop() knowing every process to end.
        self.pubsub = emulators.launch_pubsub(self.run_dir, pubsub_port)
        self.firestore = emulators.launch_firestore(self.run_dir, firestore_port)
        self._start_functions(env)
        on_step(f"launched the emulators and {len(self.functions)} functions; starting edgetrain serve")
        try:
            self.service.start()  # blocks until it serves; ServiceStartError kills what it started
            self.pubsub.wait_ready()
            self.firestore.wait_ready()
            for function in self.functions.values():
                function.wait_ready()
        finally:
            self._write_manifest()
        on_step(
            f"processes ready in {time.monotonic() - started:.0f} s; creating topics and push subscriptions"
        )
        os.environ.update(self.client_env())  # this process's own clients (runner, scheduler, listener)
        self._wire()
        self.scheduler = SchedulerLoop(
            self.publisher, self.topic_path(self.topics.TOPIC_POLL_TICK), self.config.poll_interval_s
        ).start()
        on_step(f"stack up in {time.monotonic() - started:.0f} s; logs in {self.run_dir}")

    def _start_functions(self, env: dict[str, str]) -> None:
        targets = [(name, "cloudevent") for name in self.topics.PUBSUB_TRIGGERS]
        targets += [(name, "http") for name in self.topics.HTTP_FUNCTIONS]
        for target, signature_type in targets:
            self.functions[target] = start_function(
                self.config.functions_source, target, signature_type, self.run_dir, env
            )

    def _wire(self) -> None:
        from google.cloud import pubsub_v1

        self.publisher = pubsub_v1.PublisherClient()
        self._subscriber = pubsub_v1.SubscriberClient()
        topics = [getattr(self.topics, name) for name in dir(self.topics) if name.startswith("TOPIC_")]
        wiring.create_topics(self.publisher, self.config.project, topics)
        for function_name, topic in self.topics.PUBSUB_TRIGGERS.items():
            function = self.functions[function_name]
            wiring.create_push_subscription(
                self._subscriber, self.config.project, topic, function_name, function.url
            )

    def _write_manifest(self) -> None:
        """run_dir/processes.json: each process group this stack owns (for tests, or leftovers by hand)."""
        groups = {f.process.name: (f.process.pid, f.process.log_path) for f in self.functions.values()}
        for emulator in (self.pubsub, self.firestore):
            if emulator is not None:
                groups[emulator.name] = (emulator.process.pid, emulator.process.log_path)
        if self.service is not None and self.service.process is not None:
            groups["edgetrain serve"] = (self.service.process.pid, self.service.log_path)
        manifest = {name: {"pgid": pid, "log": str(log)} for name, (pid, log) in groups.items()}
        (self.run_dir / "processes.json").write_text(json.dumps(manifest, indent=2) + "\n")

    # ---- addresses and settings
    def client_env(self) -> dict[str, str]:
        env = {"GOOGLE_CLOUD_PROJECT": self.config.project}
        for emulator in (self.pubsub, self.firestore):
            if emulator is not None:
                env |= emulator.env()
        return env

    def function_env(self, pubsub_port: int, firestore_port: int, automl_port: int) -> dict[str, str]:
        """The environment each function process runs with (Terraform sets the same names in the cloud).
        automl_port: the service's gRPC port, which serves AutoML v1 and the Vertex AI subset alike."""
        endpoint = "VERTEX_ENDPOINT" if self.config.backend == "vertex-ai" else "AUTOML_ENDPOINT"
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "GOOGLE_CLOUD_PROJECT": self.config.project,
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{pubsub_port}",
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_port}",
            "TRAINING_BACKEND": self.config.backend,
            endpoint: f"127.0.0.1:{automl_port}",
            "AUTOML_LOCATION": self.config.location,
            "EXPORT_URI_PREFIX": f"gs://{EXPORT_BUCKET}/model-export/",
            # the functions read what the service writes to gs:// from its storage root
            "STORAGE_LOCAL_ROOT": str(self._storage_root()),
            "TRAINING_PROGRESS_URI_PREFIX": PROGRESS_URI_PREFIX,
            **self.config.function_env,
        }

    def _storage_root(self) -> Path:
        """The service's storage root (ServiceProcess's default under its data dir until it exists)."""
        return self.service.storage_root if self.service is not None else self.run_dir / "service" / "storage"

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.config.project}/topics/{topic}"

    def urls(self) -> dict[str, str]:
        urls = {name: f.url for name, f in self.functions.items()}
        if self.service is not None and self.service.rest_url:
            urls |= {"automl_rest": self.service.rest_url, "automl_grpc": self.service.grpc_target}
            if self.service.vertex_rest_url:
                urls["vertex_rest"] = self.service.vertex_rest_url
        for emulator in (self.pubsub, self.firestore):
            if emulator is not None:
                urls[emulator.name] = emulator.host
        return urls

    def local_path(self, gcs_uri: str) -> Path:
        """Where a gs://BUCKET/PATH the service reports lives on this machine (its storage root)."""
        if not gcs_uri.startswith("gs://"):
            return Path(gcs_uri)
        return self.service.storage_root / gcs_uri[len("gs://") :]

    def publish(self, topic: str, payload: dict, **attributes: str) -> str:
        """Publish a JSON message to `topic` (a short name); returns the message id."""
        data = json.dumps(payload).encode()
        return self.publisher.publish(self.topic_path(topic), data, **attributes).result(timeout=60)

    def dead_processes(self) -> list[str]:
        """Names (and log files) of stack processes that exited while the stack should be up."""
        dead = [
            f"{f.process.name} (log {f.process.log_path})"
            for f in self.functions.values()
            if f.process.exited()
        ]
        for emulator in (self.pubsub, self.firestore):
            if emulator is not None and emulator.process.exited():
                dead.append(f"{emulator.name} (log {emulator.process.log_path})")
        if (
            self.service is not None
            and self.service.process is not None
            and self.service.process.poll() is not None
        ):
            dead.append(f"edgetrain serve (log {self.service.log_path})")
        return dead

    # ---- stop
    def stop(self) -> None:
        """Stop everything this stack started, in reverse order; safe to call more than once."""
        if self.run_dir.is_dir():
            self._write_manifest()  # also when start() was interrupted before it wrote one
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        for client in (self.publisher, self._subscriber):
            _close_quietly(client)
        self.publisher = self._subscriber = None
        for function in self.functions.values():
            function.stop()
        if self.service is not None and self.service.process is not None:
            self.service.stop(timeout=30)
            _kill_group(self.service.process.pid)  # its worker processes, should any outlive it
        for emulator in (self.pubsub, self.firestore):
            if emulator is not None:
                emulator.stop()


def _close_quietly(client) -> None:
    if client is None:
        return
    try:
        if hasattr(client, "close"):
            client.close()
        else:
            client.transport.close()
    except Exception:  # closing a client of a stopped emulator must not hide the real error
        pass


def _kill_group(pgid: int) -> None:
    import signal

    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
