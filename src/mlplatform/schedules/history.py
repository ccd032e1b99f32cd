"""Run history of scheduled, caught-up, backfilled and retried runs, in SQLite under the state dir.

Written by the scheduler daemon and by `backfill`; read by `mlplatform runs`. One row per
attempt. SQLite in WAL mode so readers never block the daemon.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from mlplatform.redact import redact

Status = Literal["running", "succeeded", "failed", "missed", "skipped", "interrupted"]
Trigger = Literal["schedule", "catch-up", "backfill", "manual", "policy"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    logical_date TEXT NOT NULL,
    scheduled_at TEXT,
    trigger TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    error TEXT,
    mlflow_run_id TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, scheduled_at);
"""


@dataclass(frozen=True)
class RunRecord:
    id: int
    pipeline: str
    logical_date: str
    scheduled_at: str | None
    trigger: str
    attempt: int
    status: str
    started_at: str | None
    ended_at: str | None
    error: str | None
    mlflow_run_id: str | None
    detail: str | None = None  # why it ran: the retrain policy's reasons, who started a manual run


COLUMNS = ", ".join(field.name for field in fields(RunRecord))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunHistory:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            if "detail" not in {row[1] for row in db.execute("PRAGMA table_info(runs)")}:
                db.execute("ALTER TABLE runs ADD COLUMN detail TEXT")  # history written before runs had it

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def start(
        self,
        pipeline: str,
        logical_date: str,
        scheduled_at: datetime | None,
        trigger: Trigger,
        attempt: int = 1,
        now: datetime | None = None,
        detail: str | None = None,
    ) -> int:
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO runs (pipeline, logical_date, scheduled_at, trigger, attempt, status, started_at, detail)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (pipeline, logical_date, _iso(scheduled_at), trigger, attempt, _iso(now) or _now(), detail),
            )
            return int(cursor.lastrowid or 0)

    def finish(
        self,
        run_id: int,
        status: Status,
        error: str | None = None,
        mlflow_run_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET status = ?, error = ?, mlflow_run_id = ?, ended_at = ? WHERE id = ?",
                (status, redact(error) if error else error, mlflow_run_id, _iso(now) or _now(), run_id),
            )

    def record(
        self,
        pipeline: str,
        logical_date: str,
        scheduled_at: datetime | None,
        trigger: Trigger,
        status: Status,
        error: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """A run that did not execute (missed, skipped): one row, already finished."""
        run_id = self.start(pipeline, logical_date, scheduled_at, trigger, now=now)
        self.finish(run_id, status, error, now=now)

    def last_scheduled(self, pipeline: str) -> datetime | None:
        """The latest fire time the daemon has dealt with (run, missed or skipped)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT MAX(scheduled_at) FROM runs WHERE pipeline = ? AND trigger IN ('schedule', 'catch-up')",
                (pipeline,),
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def list(self, pipeline: str | None = None, limit: int = 50) -> list[RunRecord]:
        query = f"SELECT {COLUMNS} FROM runs"
        params: tuple[object, ...] = ()
        if pipeline:
            query += " WHERE pipeline = ?"
            params = (pipeline,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(query, (*params, limit)).fetchall()
        return [RunRecord(*row) for row in rows]

    def running(self) -> list[RunRecord]:
        """Rows still marked running (at a daemon's start: left by one that died)."""
        with self._connect() as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM runs WHERE status = 'running' ORDER BY id").fetchall()
        return [RunRecord(*row) for row in rows]

    def interrupt_running(self, now: datetime | None = None) -> int:
        """Rows left 'running' by a daemon that died: mark them interrupted (called at start)."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = ?, error = 'the scheduler stopped during the run'"
                " WHERE status = 'running'",
                (_iso(now) or _now(),),
            )
            return cursor.rowcount


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None
