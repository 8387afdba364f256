"""Run each Cloud Function entry point as its own functions-framework process, as Cloud Run would."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from edgetrain.localstack.processes import LOCALHOST, ManagedProcess, free_port, port_open

FUNCTION_START_TIMEOUT_S = 120.0


@dataclass
class FunctionProcess:
    """One entry point of a functions source file, served over HTTP on 127.0.0.1:port."""

    target: str
    signature_type: str  # "cloudevent" or "http"
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def wait_ready(self, timeout: float = FUNCTION_START_TIMEOUT_S) -> None:
        # gunicorn binds once the source imported; a failing import exits the process (its log says why).
        self.process.wait_ready(lambda: port_open(self.port), timeout, what=f"listening on {self.port}")

    def stop(self) -> None:
        self.process.stop()


def start_function(
    source: Path,
    target: str,
    signature_type: str,
    log_dir: Path,
    env: Mapping[str, str],
    port: int | None = None,
) -> FunctionProcess:
    """Start `functions-framework --source SOURCE --target TARGET` without waiting for it (see wait_ready)."""
    if signature_type not in ("cloudevent", "http"):
        raise ValueError(f"signature_type: {signature_type!r} must be 'cloudevent' or 'http'")
    port = port or free_port()
    argv = [
        sys.executable, "-m", "functions_framework",
        "--source", str(source),
        "--target", target,
        "--signature-type", signature_type,
        "--host", LOCALHOST,
        "--port", str(port),
    ]  # fmt: skip
    process = ManagedProcess(f"function {target}", argv, Path(log_dir) / f"function-{target}.log", env=env)
    return FunctionProcess(target=target, signature_type=signature_type, port=port, process=process.start())
