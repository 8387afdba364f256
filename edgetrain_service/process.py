"""`ServiceProcess`: start `edgetrain serve` as a subprocess on free ports, wait until it is ready, stop it.

    with ServiceProcess(data_dir=tmp / "svc", trainer_overrides={"max_epochs": 1}) as service:
        channel = grpc.insecure_channel(service.grpc_target)
        client = AutoMlClient(transport=AutoMlGrpcTransport(channel=channel))
        ...  # or REST at service.rest_url

Used by the service tests, the pipeline tests, the benchmarks and the local stack. The process itself is a
local-stack ManagedProcess (one subprocess lifecycle for every child process): its own process group, stdout
and stderr appended to <data dir>/service.log, where the ready line is read from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from edgetrain.localstack.errors import ProcessStartError
from edgetrain.localstack.processes import ManagedProcess

from .cli import READY_PREFIX


class ServiceStartError(ProcessStartError, RuntimeError):
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
        allow_local_dirs: Sequence[str | Path] = (),
        extra_args: Sequence[str] = (),
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
        self.managed: ManagedProcess | None = None
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

    @property
    def process(self) -> subprocess.Popen | None:
        return self.managed.popen if self.managed is not None else None

    def start(self) -> ServiceProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0  # a restart appends
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        # The server stops its own workers on SIGTERM (their jobs go back in the queue), so SIGTERM goes to it
        # alone; kill() takes the server and its workers down together.
        self.managed = ManagedProcess(
            "edgetrain serve", self._command(), self.log_path, env, term_group=False
        )
        self.managed.start()
        try:
            self.managed.wait_ready(lambda: self._read_ready_line(log_start), self.startup_timeout)
        except ProcessStartError as error:
            raise ServiceStartError(str(error)) from None
        return self

    def _read_ready_line(self, log_start: int) -> bool:
        with open(self.log_path, "rb") as log:
            log.seek(log_start)
            text = log.read().decode(errors="replace")
        for line in text.splitlines():
            if line.startswith(READY_PREFIX):
                fields = dict(part.split("=", 1) for part in line.split()[3:])
                self.grpc_target, self.rest_url = fields["grpc"], fields["rest"]
                self.vertex_rest_url = fields.get("vertex_rest", "")
                return True
        return False

    def log_tail(self, lines: int = 40) -> str:
        return self.managed.log_tail(lines) if self.managed is not None else ""

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (clean stop: queued work stays queued), then SIGKILL if it does not exit in time; returns
        the exit code (None if it never started)."""
        return self.managed.stop(grace=timeout) if self.managed is not None else None

    def kill(self) -> None:
        """SIGKILL the server and its worker processes at once, like a crash or power loss."""
        if self.managed is not None:
            self.managed.kill()

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
