"""The local scheduler: runs the pipelines on their AWS schedule expressions, like EventBridge.

- One daemon per state directory (an exclusive lock; a second daemon says so and exits).
- One run at a time per pipeline, also against `backfill` (a lock per pipeline); the daemon
  itself runs one pipeline at a time, in fire-time order.
- Missed runs (the daemon was down) follow an explicit policy: `latest` runs the most recent
  missed fire if it is within the grace period and records the others as missed; `all` runs
  every missed fire, oldest first, up to a limit. A first start has nothing to catch up.
- Fires that pass while a run is still going are recorded as skipped, never stacked.
- Failed runs are retried with exponential backoff; each attempt is a history row.
- Inference on partitioned files waits for the date's input to be complete, then gives up with
  "skipped: no input" rather than failing.
- A stop request (SIGTERM/SIGINT) stops new runs; the runner lets the current run finish within
  a grace period or aborts it (status interrupted).

The clock and the runner are injected, so tests drive days of schedule in milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from mlplatform.dates import logical_date_of
from mlplatform.locks import exclusive_lock
from mlplatform.schedules.expressions import Schedule, to_iso
from mlplatform.schedules.history import RunHistory, RunRecord, Trigger

log = logging.getLogger("mlplatform.scheduler")
Pipeline = Literal["training", "inference"]


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Sleep; True when woken by `stop`."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(seconds, 0.0))


@dataclass(frozen=True)
class RunResult:
    status: Literal["succeeded", "failed", "interrupted"]
    error: str | None = None
    mlflow_run_id: str | None = None


Runner = Callable[[Pipeline, str, threading.Event], RunResult]
InputCheck = Callable[[str], tuple[bool, str]]


@dataclass(frozen=True)
class Job:
    pipeline: Pipeline
    schedule: Schedule


@dataclass(frozen=True)
class DaemonConfig:
    missed_runs: Literal["latest", "all"] = "latest"
    grace_period: timedelta = timedelta(hours=6)
    catch_up_limit: int = 7
    max_retries: int = 2
    retry_backoff_s: float = 60.0
    input_wait_timeout_s: float = 3600.0
    input_poll_s: float = 30.0


def event(name: str, **fields: object) -> None:
    """One structured event. The message is logfmt; the fields also travel with the record
    (`record.event`), so a JSON formatter writes them as one JSON object per line."""
    log.info(
        " ".join([f"event={name}", *(f"{k}={_quote(v)}" for k, v in fields.items())]),
        extra={"event": {"event": name, **fields}},
    )


def _quote(value: object) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text) else text


def pipeline_lock(state_dir: Path, pipeline: str, wait: bool = True) -> contextlib.AbstractContextManager[None]:
    """Held for the duration of every run of `pipeline` (daemon and backfill alike)."""
    return exclusive_lock(state_dir / "locks" / f"pipeline-{pipeline}.lock", f"a {pipeline} run", wait=wait)


def daemon_lock(state_dir: Path) -> contextlib.AbstractContextManager[None]:
    return exclusive_lock(
        state_dir / "locks" / "scheduler.lock",
        "a scheduler on this state directory",
        wait=False,
        fix="stop it first, or use another state directory (MLPLATFORM_HOME)",
    )


def overdue_fires(
    schedule: Schedule, handled: datetime, now: datetime, grace: timedelta, limit: int = 1000
) -> list[datetime]:
    """Fires after the last one the daemon dealt with that are older than the grace period: runs
    nobody ran or recorded (the daemon was down, or stuck), oldest first, at most `limit`."""
    overdue: list[datetime] = []
    cursor = handled
    while len(overdue) < limit and (fire := schedule.next_after(cursor)) is not None and fire <= now - grace:
        overdue.append(fire)
        cursor = fire
    return overdue


Reconcile = Callable[[RunRecord], "tuple[str, str | None] | None"]  # (what happened, MLflow run id)
RetrainCheck = Callable[[], "str | None"]  # why to retrain now (the policy's reasons), or None


@dataclass
class Scheduler:
    jobs: list[Job]
    runner: Runner
    history: RunHistory
    state_dir: Path
    config: DaemonConfig = field(default_factory=DaemonConfig)
    clock: Clock = field(default_factory=SystemClock)
    input_check: InputCheck | None = None
    # Given a run left 'running' by a daemon that died: what its output shows it achieved
    # (None: nothing, it was interrupted). Called once at start.
    reconcile: Reconcile | None = None
    # The retrain policy, asked after each scoring run and every `policy_every` (labels arrive
    # on their own time); a reason starts a training run with trigger "policy".
    retrain_check: RetrainCheck | None = None
    policy_every: timedelta = timedelta(minutes=15)
    # Called with the pipeline after each run, whatever its outcome (the report is rewritten).
    after_run: Callable[[Pipeline], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run_forever(self) -> None:
        with daemon_lock(self.state_dir):
            for record in self.history.running() if self.reconcile else ():
                if (finished := self.reconcile(record)) is not None:
                    self.history.finish(record.id, "succeeded", *finished)
                    event("run_reconciled", pipeline=record.pipeline, logical_date=record.logical_date)
            interrupted = self.history.interrupt_running(self.clock.now())
            if interrupted:
                event("interrupted_runs_closed", count=interrupted)
            cursors = {job.pipeline: self.catch_up(job) for job in self.jobs}
            event(
                "scheduler_started",
                **{f"{job.pipeline}_next": _next_text(job.schedule, cursors[job.pipeline]) for job in self.jobs},
            )
            while not self.stop.is_set():
                due = [
                    (fire, job)
                    for job in self.jobs
                    if (fire := job.schedule.next_after(cursors[job.pipeline])) is not None
                ]
                if not due:
                    event("no_more_fires")
                    self.stop.wait()
                    break
                fire, job = min(due, key=lambda item: item[0])
                policy_at = self.clock.now() + self.policy_every
                if self.retrain_check is not None and policy_at < fire:
                    if self.clock.sleep(self.policy_every.total_seconds(), self.stop):
                        break
                    self.ask_policy()
                    continue
                if self.clock.sleep((fire - self.clock.now()).total_seconds(), self.stop):
                    break
                if self.execute(job, fire, "schedule") == "succeeded" and job.pipeline == "inference":
                    self.ask_policy()
                cursors[job.pipeline] = self._skip_passed(job, fire)
            event("scheduler_stopped")

    def catch_up(self, job: Job) -> datetime:
        """Apply the missed-run policy; returns the cursor after which to wait for fires."""
        now = self.clock.now()
        last = self.history.last_scheduled(job.pipeline)
        if last is None:
            return now
        missed = job.schedule.fire_times_between(last, now, limit=10_000)
        if not missed:
            return max(last, now) if last > now else now
        if self.config.missed_runs == "latest":
            latest = missed[-1]
            for fire in missed[:-1]:
                self._record(job, fire, "missed", "superseded by a later missed run (policy: latest)")
            if now - latest <= self.config.grace_period:
                self.execute(job, latest, "catch-up")
            else:
                self._record(job, latest, "missed", f"older than the grace period ({self.config.grace_period})")
            return self._skip_passed(job, latest)
        to_run = missed[-self.config.catch_up_limit :]
        for fire in missed[: -self.config.catch_up_limit]:
            self._record(job, fire, "missed", f"beyond catch_up_limit ({self.config.catch_up_limit})")
        last_fire = now
        for fire in to_run:
            if self.stop.is_set():
                break
            self.execute(job, fire, "catch-up")
            last_fire = fire
        return self._skip_passed(job, last_fire)

    def _skip_passed(self, job: Job, handled: datetime) -> datetime:
        """Fires that passed while a run was going: recorded as skipped, never stacked up."""
        now = self.clock.now()
        passed = job.schedule.fire_times_between(handled, now, limit=10_000)
        for fire in passed:
            self._record(job, fire, "skipped", "the previous run was still going")
        return passed[-1] if passed else max(handled, now) if handled > now else handled

    def _record(self, job: Job, fire: datetime, status: str, reason: str) -> None:
        logical_date = logical_date_of(fire, job.schedule.zone)
        self.history.record(job.pipeline, logical_date, fire, "schedule", status, reason, now=self.clock.now())  # type: ignore[arg-type]
        event(
            "run_" + status, pipeline=job.pipeline, logical_date=logical_date, scheduled_at=to_iso(fire), reason=reason
        )

    def ask_policy(self) -> None:
        """Train now when the retrain policy says so (the gate still decides promotion)."""
        if self.retrain_check is None:
            return
        try:
            reason = self.retrain_check()
        except Exception as exc:  # noqa: BLE001 - a failing policy check must not stop the daemon
            event("policy_failed", error=f"{type(exc).__name__}: {exc}")
            return
        if reason is None:
            return
        event("retrain_triggered", reason=reason)
        self.run("training", logical_date_of(self.clock.now(), UTC), None, "policy", reason)

    def execute(self, job: Job, fire: datetime, trigger: Trigger) -> str:
        """One scheduled run: wait for input if needed, then run with retries; its final status."""
        logical_date = logical_date_of(fire, job.schedule.zone)
        if job.pipeline == "inference" and self.input_check is not None:
            ready, detail = self._wait_for_input(logical_date)
            if not ready:
                self.history.record(
                    job.pipeline, logical_date, fire, trigger, "skipped", f"no input: {detail}", now=self.clock.now()
                )
                event("run_skipped", pipeline=job.pipeline, logical_date=logical_date, reason=f"no input: {detail}")
                return "skipped"
        return self.run(job.pipeline, logical_date, fire, trigger)

    def run(
        self, pipeline: Pipeline, logical_date: str, fire: datetime | None, trigger: Trigger, detail: str | None = None
    ) -> str:
        """A run with retries, recorded attempt by attempt; its final status."""
        status = "failed"
        for attempt in range(1, self.config.max_retries + 2):
            started = time.perf_counter()
            row = self.history.start(
                pipeline, logical_date, fire, trigger, attempt, now=self.clock.now(), detail=detail
            )
            event(
                "run_started",
                pipeline=pipeline,
                logical_date=logical_date,
                scheduled_at=to_iso(fire) if fire else "",
                trigger=trigger,
                attempt=attempt,
            )
            try:
                with pipeline_lock(self.state_dir, pipeline):
                    result = self.runner(pipeline, logical_date, self.stop)
            except Exception as exc:  # noqa: BLE001 - a runner crash is a failed run, not a dead daemon
                result = RunResult("failed", f"{type(exc).__name__}: {exc}")
            self.history.finish(row, result.status, result.error, result.mlflow_run_id, now=self.clock.now())
            event(
                "run_finished",
                pipeline=pipeline,
                logical_date=logical_date,
                status=result.status,
                attempt=attempt,
                duration_s=round(time.perf_counter() - started, 2),
                mlflow_run_id=result.mlflow_run_id or "",
                error=result.error or "",
            )
            status = result.status
            if result.status != "failed" or self.stop.is_set() or attempt > self.config.max_retries:
                break
            delay = self.config.retry_backoff_s * 2 ** (attempt - 1)
            event(
                "retry_scheduled",
                pipeline=pipeline,
                logical_date=logical_date,
                in_s=delay,
                next_attempt=attempt + 1,
            )
            if self.clock.sleep(delay, self.stop):
                break
        self._after(pipeline)  # once a run, after its last attempt (not for each retry)
        return status

    def _after(self, pipeline: Pipeline) -> None:
        if self.after_run is None:
            return
        try:
            self.after_run(pipeline)
        except Exception as exc:  # noqa: BLE001 - what runs after a run must not stop the daemon
            event("after_run_failed", pipeline=pipeline, error=f"{type(exc).__name__}: {exc}")

    def _wait_for_input(self, logical_date: str) -> tuple[bool, str]:
        assert self.input_check is not None
        deadline = self.clock.now() + timedelta(seconds=self.config.input_wait_timeout_s)
        while True:
            ready, detail = self.input_check(logical_date)
            if ready:
                return True, detail
            if self.clock.now() >= deadline or self.stop.is_set():
                return False, detail
            event("waiting_for_input", logical_date=logical_date, detail=detail)
            if self.clock.sleep(self.config.input_poll_s, self.stop):
                return False, detail


def _next_text(schedule: Schedule, cursor: datetime) -> str:
    following = schedule.next_after(cursor)
    return to_iso(following) if following else "never"
