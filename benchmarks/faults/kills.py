"""Scenario: SIGKILL of the service (server and workers together) or of one worker process, at random points
of imports, trainings and exports that the pipeline started, each followed by a restart of the service.

The work goes through the pipeline (import requests and training requests published to its topics; its
exports follow a dataset's first model), plus ExportModel calls of its own when no export is under way. After
the kills nothing more is started; once the service's operations settle, kill_checks.py compares.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

from benchmarks.faults import service_view
from benchmarks.faults.kill_checks import Tracker, firestore_disagreements
from benchmarks.faults.stack import EXPORT_BUCKET, FaultStack, wait_until
from edgetrain.localstack.wiring import RETRY_MAX_BACKOFF_S

PHASES = (
    ("import", "service"),
    ("train", "service"),
    ("train", "worker"),
    ("export", "service"),
    ("export", "worker"),
)
MAX_DELAY_S = {
    "import": 2.0,
    "train": 20.0,
    "export": 3.0,
}  # a kill falls in [0, this] after the work started
WORK_TIMEOUT_S = 600.0
WORK_TRIES = 3
SETTLE_TIMEOUT_S = 900.0
QUIET_S = RETRY_MAX_BACKOFF_S + 30.0


def worker_pids(service_pid: int) -> list[int]:
    """The service's spawned worker processes (multiprocessing's resource tracker is not one)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), -1)
        if ppid == service_pid and "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            pids.append(int(proc.name))
    return pids


class KillScenario:
    def __init__(self, stack: FaultStack, seed: int):
        self.stack = stack
        self.rng = random.Random(seed)
        self.tracker = Tracker(stack)
        self.small_csv = stack.sample_csv("kills-small", {"TRAIN": 8, "VALIDATION": 4, "TEST": 4})
        self.big_csv = stack.sample_csv("kills-big", {"TRAIN": 1000, "VALIDATION": 1000, "TEST": 1000})  # all
        self.datasets: list[str] = []
        self.requests = 0
        self.log: list[dict[str, Any]] = []

    # ---- work
    def _publish(self, function: str, message: dict) -> None:
        self.requests += 1
        self.stack.publish(function, json.dumps(message).encode())

    def _running(self, kind: str) -> service_view.Op | None:
        ops = [o for o in self.tracker.observe() if o.kind == kind and not o.done]
        return ops[0] if ops else None

    def _import(self, csv_uri: str) -> str:
        dataset = self.stack.create_dataset(f"kills_{len(self.datasets)}")
        self.datasets.append(dataset)
        request = {
            "schemaVersion": 1,
            "dataset": dataset,
            "inputUris": [csv_uri],
            "requestId": f"kill-import-{len(self.datasets)}",
        }
        self._publish("import_dataset", request)
        return dataset

    def _imported(self) -> list[str]:
        return [d for d in self.datasets if d in self.tracker.rows]

    def _train(self) -> None:
        if not self._imported():
            dataset = self._import(self.small_csv)
            wait_until(lambda: self.tracker.observe() and dataset in self.tracker.rows, WORK_TIMEOUT_S, 1)
        dataset = self.rng.choice(self._imported() or self.datasets)
        request = {
            "schemaVersion": 1,
            "dataset": dataset,
            "source": "manual",
            "requestId": f"kill-train-{self.requests}",
            "modelType": "mobile-low-latency-1",
            "trainBudgetMilliNodeHours": 1000,
        }
        self._publish("start_training", request)

    def _export(self) -> None:
        if not self.tracker.model_files:
            if self._running("train") is None:
                self._train()
            wait_until(lambda: self.tracker.observe() and self.tracker.model_files, WORK_TIMEOUT_S, 1)
        if not self.tracker.model_files:
            return
        model = self.rng.choice(sorted(self.tracker.model_files))
        destination = f"gs://{EXPORT_BUCKET}/faults/kill-exports/{len(self.log)}/"
        config = {"model_format": "tflite", "gcs_destination": {"output_uri_prefix": destination}}
        self.stack.automl.export_model(name=model, output_config=config)

    def _work(self, kind: str, target: str) -> service_view.Op | None:
        """Work of `kind` under way (started if there is none), and for a worker kill its worker up. Work
        that ends before it is seen under way (a small import, a quick export) is started again, a few
        times at most; then the kill falls after it (counted as not mid-work)."""
        starters = {
            "import": lambda: self._import(self.big_csv),
            "train": self._train,
            "export": self._export,
        }
        op = None
        for _ in range(WORK_TRIES):
            op = self._running(kind)
            if op is None:
                known = {o.name for o in self.tracker.observe() if o.kind == kind}
                starters[kind]()
                wait_until(lambda k=known: self._new(kind, k) or self._running(kind), WORK_TIMEOUT_S, 0.2)
                op = self._running(kind)
                if op is None:
                    continue  # it ran to its end between two looks
            if target == "service":
                return op
            pid = self.stack.service.process.pid
            wait_until(lambda p=pid: worker_pids(p) or self._running(kind) is None, WORK_TIMEOUT_S, 0.2)
            if worker_pids(pid):
                return op
        return op

    def _new(self, kind: str, known: set[str]) -> list[service_view.Op]:
        return [o for o in self.tracker.observe() if o.kind == kind and o.name not in known]

    # ---- kills
    def _worker_of(self, op: service_view.Op | None, pids: list[int]) -> list[int]:
        """The worker running `op` (the service logs "<kind> job <op>: worker pid <pid>"), else any one."""
        if op is not None:
            marker = f"job {op.name}: worker pid "
            lines = self.stack.service.log_path.read_text(errors="replace").splitlines()
            started = [int(line.rsplit(" ", 1)[1]) for line in lines if marker in line]
            if started and started[-1] in pids:
                return started[-1:]
        return pids[:1]

    def _kill(self, target: str, op: service_view.Op | None) -> bool:
        service = self.stack.service
        if target == "worker":
            pids = self._worker_of(op, worker_pids(service.process.pid))
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            time.sleep(3)  # the scheduler reaps it
            service.stop()
        else:
            service.kill()
        service.start()
        self.stack.reconnect()
        return target != "worker" or bool(pids)

    def run(self, kills: int) -> dict[str, Any]:
        started = time.monotonic()
        for number in range(kills):
            kind, target = PHASES[self.rng.randrange(len(PHASES))]
            op = self._work(kind, target)
            time.sleep(self.rng.uniform(0, MAX_DELAY_S[kind]))
            mid_work = self._running(kind) is not None
            killed = self._kill(target, op)
            self.log.append(
                {
                    "kill": number,
                    "phase": kind,
                    "target": target,
                    "mid_work": mid_work and killed,
                    "op": op.name if op else None,
                }
            )
        settled = self._settle()
        problems = firestore_disagreements(self.stack)
        return {
            "kills": kills,
            "kills_mid_work": sum(k["mid_work"] for k in self.log),
            "by_phase": {
                f"{k}/{t}": sum(1 for e in self.log if (e["phase"], e["target"]) == (k, t)) for k, t in PHASES
            },
            **self.tracker.figures(),
            "settled": bool(settled),
            "firestore_disagreements": len(problems),
            "disagreement_examples": problems[:5],
            "requests_published": self.requests,
            "seconds": round(time.monotonic() - started, 1),
        }

    def _settle(self) -> bool:
        """Wait until the service runs nothing, Firestore records every outcome, and that has held with the
        same operations for QUIET_S: a request whose push failed during a kill is delivered again up to the
        subscription's longest backoff later and may start an operation after everything looked done."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        quiet_since, seen = time.monotonic(), None
        while time.monotonic() < deadline:
            ops = self.tracker.observe()
            names = {o.name for o in ops}
            if any(not o.done for o in ops) or names != seen or firestore_disagreements(self.stack):
                quiet_since, seen = time.monotonic(), names
            elif time.monotonic() - quiet_since >= QUIET_S:
                return True
            time.sleep(3)
        return False


def run(stack: FaultStack, kills: int, seed: int) -> dict[str, Any]:
    return KillScenario(stack, seed).run(kills)
