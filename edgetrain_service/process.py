"""`ServiceProcess`: start `edgetrain serve` as a subprocess on free ports, wait until it is ready, stop it.

    with ServiceProcess(data_dir=tmp / "svc", trainer_overrides={"max_epochs": 1}) as service:
        channel = grpc.insecure_channel(service.grpc_target)
        client = AutoMlClient(transport=AutoMlGrpcTransport(channel=channel))
        ...  # or REST at service.rest_url

Used by the service tests, the pipeline tests and the local stack. The server's log goes to
<data dir>/service.log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .cli import READY_PREFIX


class ServiceStartError(RuntimeError):
    """The server exited or did not become ready in time; the message ends with its log."""


class ServiceProcess:
    def __init__(
        self,
        data_dir: str | Path,
        storage_root: str | Path | None = None,
        trainer_overrides: dict | str | Path | None = None,
        workers: int = 1,
        cancel_grace_s: float | None = None,
        token: str | None = None,
        host: str = "127.0.0.1",
        grpc_port: int = 0,
        rest_port: int = 0,
        startup_timeout: float = 120.0,
        env: dict[str, str] | None = None,
        allow_local_dirs: list[str | Path] = (),
        extra_args: list[str] = (),
        vertex_rest_port: int = 0,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.storage_root = Path(storage_root).resolve() if storage_root else self.data_dir / "storage"
        self.trainer_overrides = trainer_overrides
        self.workers = workers
        self.cancel_grace_s = cancel_grace_s
        self.token = token
        self.host = host
        self.ports = (grpc_port, rest_port, vertex_rest_port)
        self.startup_timeout = startup_timeout
        self.env = env
        self.allow_local_dirs = [Path(folder) for folder in allow_local_dirs]
        self.extra_args = list(extra_args)  # more `edgetrain serve` flags, e.g. ["--allow-origin", ORIGIN]
        self.log_path = self.data_dir / "service.log"
        self.process: subprocess.Popen | None = None
        self.grpc_target = ""
        self.rest_url = ""
        self.vertex_rest_url = ""  # the Vertex AI surface's REST port (its gRPC shares grpc_target)

    def _command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "edgetrain_service.cli",  # `edgetrain serve` without importing the other subcommands
            "--host",
            self.host,
            "--grpc-port",
            str(self.ports[0]),
            "--rest-port",
            str(self.ports[1]),
            "--vertex-rest-port",
            str(self.ports[2]),
            "--data-dir",
            str(self.data_dir),
            "--storage-root",
            str(self.storage_root),
            "--workers",
            str(self.workers),
        ]
        if self.cancel_grace_s is not None:
            command += ["--cancel-grace-seconds", str(self.cancel_grace_s)]
        if self.token:
            command += ["--token", self.token]
        for folder in self.allow_local_dirs:
            command += ["--allow-local-dir", str(folder)]
        command += self.extra_args
        overrides = self.trainer_overrides
        if isinstance(overrides, dict):
            path = self.data_dir / "trainer_overrides.json"
            path.write_text(json.dumps(overrides))
            overrides = path
        if overrides:
            command += ["--trainer-overrides", str(overrides)]
        return command

    def start(self) -> ServiceProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        with open(self.log_path, "ab") as log:
            # A session of its own, so kill() can take the server and its workers down together.
            self.process = subprocess.Popen(
                self._command(),
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                start_new_session=True,
                text=True,
            )
        ready = threading.Event()

        def read_stdout() -> None:
            for line in self.process.stdout:
                if line.startswith(READY_PREFIX):
                    fields = dict(part.split("=", 1) for part in line.split()[3:])
                    self.grpc_target, self.rest_url = fields["grpc"], fields["rest"]
                    self.vertex_rest_url = fields.get("vertex_rest", "")
                    ready.set()

        threading.Thread(target=read_stdout, name="service-stdout", daemon=True).start()
        deadline_hit = not ready.wait(self.startup_timeout)
        if deadline_hit or self.process.poll() is not None:
            self.kill()
            raise ServiceStartError(
                f"edgetrain serve did not become ready (exit code {self.process.returncode}); "
                f"log {self.log_path}:\n{self.log_tail()}"
            )
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (clean stop: queued work stays queued), then SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the server and its worker processes at once, like a crash or power loss."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
