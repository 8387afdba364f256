"""Durable state: one SQLite database (WAL) under the data dir, shared by the server and its worker processes.

Resources (datasets, annotation specs, models, evaluations) and operations are stored as serialized protos
with the columns that lists and filters need. Jobs are the durable work queue behind operations: a row is
written in the same transaction as its operation, so an acknowledged request is never lost.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .job_payloads import JobPayload, encode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    parent TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    proto BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_by_parent ON resources(kind, parent, seq);
CREATE TABLE IF NOT EXISTS operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE NOT NULL,
    parent TEXT NOT NULL,
    op_id TEXT NOT NULL,
    works_on TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    proto BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS operations_by_parent ON operations(parent, done, seq);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op_name TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
"""

Row = sqlite3.Row


class Store:
    """Thread-safe access to the service database: one connection per thread (and per process)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)  # executescript manages its own transaction

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # acknowledged means on disk, even across power loss
            db.execute("PRAGMA busy_timeout=60000")
            self._local.db = db
        return db

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): commits on success, rolls back on any exception."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a COMMIT that failed (busy, I/O) leaves it open: the connection is reused
                db.execute("ROLLBACK")
            raise

    def query(self, sql: str, params: tuple = ()) -> list[Row]:
        return self._connection().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple = ()) -> Row | None:
        return self._connection().execute(sql, params).fetchone()

    # ---- resources
    def get_resource(self, name: str, kind: str) -> bytes | None:
        row = self.query_one("SELECT proto FROM resources WHERE name=? AND kind=?", (name, kind))
        return None if row is None else row["proto"]

    def list_resources(self, kind: str, parent: str, after_seq: int = 0, limit: int = -1) -> list[Row]:
        return self.query(
            "SELECT seq, name, label, proto FROM resources WHERE kind=? AND parent=? AND seq>? "
            "ORDER BY seq LIMIT ?",
            (kind, parent, after_seq, limit),
        )

    @staticmethod
    def put_resource(
        db: sqlite3.Connection, name: str, kind: str, parent: str, proto: bytes, label: str = ""
    ):
        db.execute(
            "INSERT INTO resources(name, kind, parent, label, proto) VALUES(?,?,?,?,?) "
            "ON CONFLICT(name) DO UPDATE SET proto=excluded.proto, label=excluded.label",
            (name, kind, parent, label, proto),
        )

    # ---- operations
    def get_operation(self, name: str) -> Row | None:
        return self.query_one("SELECT * FROM operations WHERE name=?", (name,))

    @staticmethod
    def insert_operation(
        db: sqlite3.Connection, name: str, parent: str, op_id: str, works_on: str, done: bool, proto: bytes
    ) -> None:
        db.execute(
            "INSERT INTO operations(name, parent, op_id, works_on, done, proto) VALUES(?,?,?,?,?,?)",
            (name, parent, op_id, works_on, int(done), proto),
        )

    @staticmethod
    def update_operation(db: sqlite3.Connection, name: str, proto: bytes, done: bool) -> None:
        db.execute("UPDATE operations SET proto=?, done=? WHERE name=?", (proto, int(done), name))

    # ---- jobs
    @staticmethod
    def insert_job(db: sqlite3.Connection, op_name: str, job: JobPayload) -> None:
        db.execute("INSERT INTO jobs(op_name, kind, payload) VALUES(?,?,?)", (op_name, job.kind, encode(job)))

    @staticmethod
    def set_job_state(db: sqlite3.Connection, op_name: str, state: str) -> None:
        db.execute("UPDATE jobs SET state=? WHERE op_name=?", (state, op_name))
