"""The durable work queue: runs queued jobs (imports in threads; trainings and exports in spawned worker
processes, at most --workers trainings at once), and recovers after a crash.

Recovery: a job found 'running' at start-up was interrupted (SIGKILL, power loss, a crash it caused). Every
job is idempotent and runs again, up to MAX_ATTEMPTS starts: one interrupted that often ends its operation
FAILED with a clear message, so a job that crashes the server cannot loop forever and nothing stays RUNNING.
A job whose outcome could not be written when its worker ended (the database failed) is retried by the loop
and, if the server stops first, by the next start's recovery.

An import's own copies of its input files (Vertex's files converted to AutoML CSVs) are removed once its
operation is done, however it ended; they stay while it may run again. Start-up removes the copies that no
queued job will read: those of a job row this version cannot read, or of a request the server was killed in
the middle of.

Cancel: a running job checks for it itself and stops cleanly. One whose worker is still alive
`cancel_grace_s` after the scheduler first saw the request (stuck in I/O or in a long native call) is
killed, and the scheduler cleans up and ends its operation CANCELLED.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time

from google.rpc import code_pb2

from . import importer, job_payloads, operations, worker
from .config import ServiceConfig
from .store import Store

_LOGGER = logging.getLogger("edgetrain.service.jobs")
MAX_ATTEMPTS = 2  # starts of one job, any kind
_AGAIN = {
    "train": "Create the model again.",
    "import": "Check the files it imports (one may crash the importer), then import again.",
    "export": "Export the model again.",
}
EXPORT_SLOTS = 1
IMPORT_SLOTS = 2  # import threads at once: each decodes images (up to 40 MP) inside the server


class Scheduler:
    def __init__(self, store: Store, config: ServiceConfig):
        self.store = store
        self.config = config
        self._spawn = multiprocessing.get_context("spawn")
        self._processes: dict[str, tuple[str, multiprocessing.process.BaseProcess]] = {}
        self._threads: dict[str, tuple[job_payloads.JobPayload, threading.Thread]] = {}
        self._cancel_seen: dict[str, float] = {}  # op name -> monotonic time the scheduler saw its cancel
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._loop = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self.recover()
        self._loop.start()

    def wake(self) -> None:
        self._wake.set()

    def recover(self) -> None:
        ended: list[tuple[str, str, str, bool]] = []  # op name, kind, payload, whether it ended ABORTED
        with self.store.tx() as db:
            for job in db.execute("SELECT * FROM jobs WHERE state='running'").fetchall():
                if db.execute("SELECT 1 FROM operations WHERE name=?", (job["op_name"],)).fetchone() is None:
                    # Its operation was deleted (a data dir from before DeleteOperation refused running ones):
                    # running it again would redo finished work, so it ends here.
                    _LOGGER.warning(
                        "not resuming %s job %s: its operation was deleted", job["kind"], job["op_name"]
                    )
                    db.execute("UPDATE jobs SET state='finished' WHERE op_name=?", (job["op_name"],))
                    ended.append((job["op_name"], job["kind"], job["payload"], False))
                elif job["attempts"] >= MAX_ATTEMPTS:
                    kind = job["kind"]
                    message = (
                        f"{'Training' if kind == 'train' else kind.capitalize()} was interrupted "
                        f"{job['attempts']} times because the service stopped while it ran; it will not be "
                        f"retried. {_AGAIN.get(kind, '')}"
                    )
                    operations.finish(db, job["op_name"], error=(code_pb2.ABORTED, message.strip()))
                    ended.append((job["op_name"], kind, job["payload"], True))
                else:
                    _LOGGER.warning("resuming interrupted %s job %s", job["kind"], job["op_name"])
                    db.execute("UPDATE jobs SET state='queued' WHERE op_name=?", (job["op_name"],))
        for op_name, kind, payload, aborted in ended:
            try:
                job = job_payloads.decode(kind, payload)
            except ValueError:  # a row this version cannot read: nothing of it to clean up
                continue
            if aborted and isinstance(job, job_payloads.ImportJob):
                importer.drop_uncommitted(self.store, self.config, op_name, job)
            _remove_copies(self.config, job)
        self._remove_unclaimed_copies()

    def _remove_unclaimed_copies(self) -> None:
        claimed: set[str] = set()
        for row in self.store.query("SELECT payload FROM jobs WHERE state='queued' AND kind='import'"):
            try:
                job = job_payloads.decode("import", row["payload"])
            except ValueError:  # a row this version cannot read: the loop ends it, its copies can go
                continue
            if isinstance(job, job_payloads.ImportJob):
                claimed.update(job.uris)
        for uri in importer.remove_unclaimed_copies(self.config, claimed):
            _LOGGER.warning("removed the import copy %s: no job will read it", uri)

    def stop(self) -> None:
        """Stop dispatching; terminate workers and put their jobs back in the queue for the next start."""
        self._stop.set()
        self._wake.set()
        self._loop.join(timeout=10)
        for op_name, (_, process) in list(self._processes.items()):
            process.terminate()
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
            with self.store.tx() as db:
                db.execute(
                    "UPDATE jobs SET state='queued', attempts=MAX(attempts-1, 0) "
                    "WHERE op_name=? AND state='running'",
                    (op_name,),
                )
        for op_name, (job, thread) in self._threads.items():
            thread.join(timeout=30)
            row = self.store.get_operation(op_name)
            if not thread.is_alive() and row is not None and row["done"]:  # else the next start runs it
                _remove_copies(self.config, job)

    # ---- the loop
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._kill_overdue_cancels()
                self._reap()
                self._dispatch()
            except Exception:  # keep scheduling; the error is logged with its traceback
                _LOGGER.exception("scheduler iteration failed")
            self._wake.wait(0.5)
            self._wake.clear()

    def _reap(self) -> None:
        """End the operation of a job whose worker is gone without recording an outcome. A job is forgotten
        only once that is written: if the database write fails, the next iteration tries again."""
        for op_name, (kind, process) in list(self._processes.items()):
            if process.is_alive():
                continue
            process.join()
            self._end_unrecorded(
                op_name, f"The {kind} worker process exited with code {process.exitcode} before finishing."
            )
            del self._processes[op_name]
            self._cancel_seen.pop(op_name, None)
        for op_name, (job, thread) in list(self._threads.items()):
            if not thread.is_alive():
                self._end_unrecorded(
                    op_name, f"The {job.kind} ended without recording an outcome (see the log)."
                )
                _remove_copies(self.config, job)  # its operation is done now, whichever way it ended
                del self._threads[op_name]

    def _end_unrecorded(self, op_name: str, message: str) -> None:
        with self.store.tx() as db:
            job = db.execute("SELECT state FROM jobs WHERE op_name=?", (op_name,)).fetchone()
            if job is not None and job["state"] == "running":
                operations.finish(db, op_name, error=(code_pb2.INTERNAL, message))

    def _kill_overdue_cancels(self) -> None:
        running = list(self._processes)
        if not running:
            return
        marks = ",".join("?" * len(running))
        rows = self.store.query(
            "SELECT o.name, j.payload FROM operations o JOIN jobs j ON j.op_name = o.name "
            f"WHERE o.cancel_requested=1 AND o.done=0 AND o.name IN ({marks})",
            tuple(running),
        )
        now = time.monotonic()
        for row in rows:
            op_name = row["name"]
            kind, process = self._processes[op_name]
            seen = self._cancel_seen.setdefault(op_name, now)
            if not process.is_alive() or now - seen < self.config.cancel_grace_s:
                continue  # one that has exited is _reap's
            _LOGGER.warning(
                "%s job %s: still running %.0f s after its cancel; killing worker pid %s",
                kind,
                op_name,
                now - seen,
                process.pid,
            )
            process.kill()
            process.join()
            del self._processes[op_name], self._cancel_seen[op_name]
            job = job_payloads.decode(kind, row["payload"])
            worker.end_killed_after_cancel(self.store, self.config, op_name, job)

    def _dispatch(self) -> None:
        queued = self.store.query("SELECT * FROM jobs WHERE state='queued' ORDER BY seq")
        for job in queued:
            kind = job["kind"]
            running = [k for k, _ in self._processes.values()]
            if kind == "train" and running.count("train") >= self.config.workers:
                continue
            if kind == "export" and running.count("export") >= EXPORT_SLOTS:
                continue
            if kind == "import" and len(self._threads) >= IMPORT_SLOTS:
                continue
            try:
                payload = job_payloads.decode(kind, job["payload"])
            except ValueError as error:  # a row this version cannot run: end it rather than retry forever
                with self.store.tx() as db:
                    operations.finish(
                        db, job["op_name"], error=(code_pb2.INTERNAL, f"Cannot run the job: {error}")
                    )
                continue
            with self.store.tx() as db:
                claimed = db.execute(
                    "UPDATE jobs SET state='running', attempts=attempts+1 WHERE op_name=? AND state='queued'",
                    (job["op_name"],),
                ).rowcount
            if not claimed:
                continue
            if kind == "import":
                thread = threading.Thread(
                    target=worker.run_job,
                    name=f"import-{job['op_name'][-6:]}",
                    args=(self.store, self.config, job["op_name"], payload),
                )
                self._threads[job["op_name"]] = (payload, thread)
                thread.start()
            else:
                process = self._spawn.Process(
                    target=worker.process_main,
                    name=f"{kind}-worker",
                    args=(self.config, job["op_name"], payload),
                    daemon=False,
                )
                process.start()
                self._processes[job["op_name"]] = (kind, process)
                _LOGGER.info("%s job %s: worker pid %s", kind, job["op_name"], process.pid)


def _remove_copies(config: ServiceConfig, job: job_payloads.JobPayload) -> None:
    if isinstance(job, job_payloads.ImportJob) and job.remove_when_done:
        importer.remove_copies(config, job.uris)
