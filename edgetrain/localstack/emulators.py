"""Start, reset and stop the official Pub/Sub and Firestore emulators as real processes on 127.0.0.1.

    with start_pubsub(log_dir) as pubsub, start_firestore(log_dir) as firestore:
        os.environ.update(pubsub.env() | firestore.env())
        ...
        reset_firestore(firestore.host, project)

The launchers come from the Debian packages google-cloud-cli-pubsub-emulator and
google-cloud-cli-firestore-emulator (Java 17). Override their paths with EDGETRAIN_PUBSUB_EMULATOR /
EDGETRAIN_FIRESTORE_EMULATOR when they are installed elsewhere (e.g. `gcloud components install`).
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from edgetrain.localstack.errors import EmulatorNotInstalledError, LocalStackError
from edgetrain.localstack.processes import LOCALHOST, ManagedProcess, free_port, http_ok

SDK_PLATFORM = Path("/usr/lib/google-cloud-sdk/platform")
PUBSUB_LAUNCHER = SDK_PLATFORM / "pubsub-emulator/bin/cloud-pubsub-emulator"
FIRESTORE_LAUNCHER = SDK_PLATFORM / "cloud-firestore-emulator/cloud_firestore_emulator"
# Measured on the 2-core machine: ~6 s (Pub/Sub) and ~8 s (Firestore) when quiet; a busy machine is slower.
START_TIMEOUT_S = 120.0
DEFAULT_PROJECT = "edgetrain-local"


@dataclass
class Emulator:
    """A running emulator: its process and where it listens."""

    name: str
    port: int
    process: ManagedProcess
    env_var: str  # PUBSUB_EMULATOR_HOST or FIRESTORE_EMULATOR_HOST

    @property
    def host(self) -> str:
        """host:port, the value the client libraries expect in the *_EMULATOR_HOST variable."""
        return f"{LOCALHOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def env(self) -> dict[str, str]:
        return {self.env_var: self.host}

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> Emulator:
        """Return once the emulator answers GET / ("Ok."); ProcessStartError (and stopped) otherwise."""
        self.process.wait_ready(lambda: http_ok(f"{self.url}/"), timeout, what=f"answering on {self.port}")
        return self

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _launcher(default: Path, env_var: str) -> Path:
    path = Path(os.environ.get(env_var, default))
    if not os.access(path, os.X_OK):
        raise EmulatorNotInstalledError(
            f"{path} not found or not executable: install the Google Cloud CLI emulators "
            f"(Debian: google-cloud-cli-pubsub-emulator google-cloud-cli-firestore-emulator, Java 17) "
            f"or set {env_var} to the launcher"
        )
    return path


def _launch(name: str, argv: list[str], port: int, env_var: str, log_dir: Path | None) -> Emulator:
    log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="edgetrain-emulators-"))
    process = ManagedProcess(name, argv, log_dir / f"{name}.log").start()
    return Emulator(name=name, port=port, process=process, env_var=env_var)


def launch_pubsub(log_dir: Path | None = None, port: int | None = None) -> Emulator:
    """Start the Pub/Sub emulator on a free port without waiting (then Emulator.wait_ready)."""
    port = port or free_port()
    launcher = _launcher(PUBSUB_LAUNCHER, "EDGETRAIN_PUBSUB_EMULATOR")
    argv = [str(launcher), f"--host={LOCALHOST}", f"--port={port}"]
    return _launch("pubsub-emulator", argv, port, "PUBSUB_EMULATOR_HOST", log_dir)


def launch_firestore(log_dir: Path | None = None, port: int | None = None) -> Emulator:
    """Start the Firestore emulator (native mode) on a free port; then call Emulator.wait_ready."""
    port = port or free_port()
    launcher = _launcher(FIRESTORE_LAUNCHER, "EDGETRAIN_FIRESTORE_EMULATOR")
    argv = [str(launcher), "start", f"--host={LOCALHOST}", f"--port={port}"]
    return _launch("firestore-emulator", argv, port, "FIRESTORE_EMULATOR_HOST", log_dir)


def start_pubsub(
    log_dir: Path | None = None, port: int | None = None, timeout: float = START_TIMEOUT_S
) -> Emulator:
    """Start the Pub/Sub emulator on a free port and return once it answers."""
    return launch_pubsub(log_dir, port).wait_ready(timeout)


def start_firestore(
    log_dir: Path | None = None, port: int | None = None, timeout: float = START_TIMEOUT_S
) -> Emulator:
    """Start the Firestore emulator (native mode) on a free port and return once it answers."""
    return launch_firestore(log_dir, port).wait_ready(timeout)


def reset_firestore(host: str, project: str = DEFAULT_PROJECT) -> None:
    """Delete every document of `project`'s default database in the emulator at host:port."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    request = urllib.request.Request(url, method="DELETE")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except urllib.error.URLError as error:
        raise LocalStackError(f"resetting the Firestore emulator at {host} failed: {error}") from error


def reset_pubsub(project: str = DEFAULT_PROJECT) -> None:
    """Delete every subscription and topic of `project` in the emulator named by PUBSUB_EMULATOR_HOST.

    The Pub/Sub emulator has no reset endpoint; deleting through the admin API gives the same clean slate.
    """
    from google.cloud import pubsub_v1  # heavy import, only where needed

    subscriber = pubsub_v1.SubscriberClient()
    publisher = pubsub_v1.PublisherClient()
    try:
        for subscription in subscriber.list_subscriptions(request={"project": f"projects/{project}"}):
            subscriber.delete_subscription(request={"subscription": subscription.name})
        for topic in publisher.list_topics(request={"project": f"projects/{project}"}):
            publisher.delete_topic(request={"topic": topic.name})
    finally:
        subscriber.close()
        publisher.transport.close()
