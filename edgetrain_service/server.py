"""Runs the whole service in one process tree: gRPC and REST servers over one ServiceApi, plus the job
scheduler and its worker processes."""

from __future__ import annotations

import logging

from .api import ServiceApi
from .config import ServiceConfig
from .data_dir_lock import lock_data_dir
from .grpc_server import create_server
from .http_guard import HttpGuard
from .jobs import Scheduler
from .rest_app import RestApp
from .rest_server import RestServer
from .store import Store
from .vertex.rest import ROUTES as VERTEX_ROUTES

_LOGGER = logging.getLogger("edgetrain.service")


class Service:
    def __init__(
        self,
        config: ServiceConfig,
        host: str = "127.0.0.1",
        grpc_port: int = 8600,
        rest_port: int = 8601,
        token: str | None = None,
        guard: HttpGuard | None = None,
        vertex_rest_port: int = 8602,
    ):
        config.data_dir.mkdir(parents=True, exist_ok=True)
        config.storage_root.mkdir(parents=True, exist_ok=True)
        self._lock_fd = lock_data_dir(config.data_dir)  # DataDirInUse if another server has it
        self.config = config
        self.host = host
        self.store = Store(config.db_path)
        self.api = ServiceApi(self.store, config)
        self.scheduler = Scheduler(self.store, config)
        self.api.on_enqueue = self.scheduler.wake
        self.grpc_server, self.grpc_port = create_server(self.api, f"{host}:{grpc_port}", token)
        self.rest_server = RestServer(host, rest_port, RestApp(self.api, token, guard), name="rest")
        self.rest_port = self.rest_server.port
        # Vertex's REST paths have AutoML's shape (Google tells them apart by host): a port of their own
        self.vertex_rest_server = RestServer(
            host, vertex_rest_port, RestApp(self.api, token, guard, routes=VERTEX_ROUTES), name="vertex-rest"
        )

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    @property
    def vertex_rest_url(self) -> str:
        return f"http://{self.host}:{self.vertex_rest_server.port}"

    def start(self) -> None:
        self.scheduler.start()
        self.grpc_server.start()
        self.rest_server.start()
        self.vertex_rest_server.start()
        _LOGGER.info(
            "serving gRPC on %s and REST on %s (data dir %s)",
            self.grpc_target,
            self.rest_url,
            self.config.data_dir,
        )

    def stop(self) -> None:
        """Stop taking requests, then stop workers (their jobs stay queued for the next start)."""
        self.rest_server.stop()
        self.vertex_rest_server.stop()
        self.grpc_server.stop(grace=5).wait()
        self.scheduler.stop()
        _LOGGER.info("stopped")
