"""Wires the scheduler daemon and backfill to the pipelines: runners, input readiness, locks."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.data.loading import file_format
from mlplatform.dates import dates_between
from mlplatform.errors import BadInputError, CorruptControlFileError, MLPlatformError
from mlplatform.layout import date_folder, partition
from mlplatform.locks import die_with
from mlplatform.schedules.daemon import (
    DaemonConfig,
    Job,
    Pipeline,
    RunResult,
    Scheduler,
    SystemClock,
    event,
    pipeline_lock,
)
from mlplatform.schedules.expressions import parse
from mlplatform.schedules.history import RunHistory, RunRecord
from mlplatform.sinks.committed import read_manifest, read_published

if TYPE_CHECKING:
    from mlplatform.flows.publish import PublishOutcome
    from mlplatform.flows.scoring import ScoringOutcome

log = logging.getLogger(__name__)


def history_for(settings: Settings) -> RunHistory:
    return RunHistory(settings.state_dir / "runs.db")


@contextlib.contextmanager
def manual_run(settings: Settings, pipeline: Pipeline, logical_date: str, command: str) -> Iterator[list[str]]:
    """A run someone started by hand, in the run history beside the scheduled ones (trigger
    "manual", who and what as its detail). Yields a list to put the MLflow run id in."""
    from mlplatform.registry.mlflow.registered import actor

    history = history_for(settings)
    row = history.start(pipeline, logical_date, None, "manual", detail=f"{actor()}: mlplatform {command}")
    run_id: list[str] = []
    try:
        yield run_id
    except MLPlatformError as exc:
        history.finish(row, "failed", str(exc))
        raise
    except BaseException:
        history.finish(row, "interrupted", "interrupted")
        raise
    history.finish(row, "succeeded", mlflow_run_id=run_id[0] if run_id else None)


def jobs_for(settings: Settings) -> list[Job]:
    schedule = settings.schedule
    jobs = []
    if schedule.training_enabled:
        jobs.append(Job("training", parse(schedule.training_schedule, schedule.timezone)))
    if schedule.inference_enabled:
        jobs.append(Job("inference", parse(schedule.inference_schedule, schedule.timezone)))
    return jobs


class SubprocessRunner:
    """Runs `mlplatform train|score --date D` as a child process: isolated, and abortable.

    On a stop request the child gets `grace_s` seconds to finish, then SIGTERM (then SIGKILL);
    an aborted scoring run has written no `_SUCCESS`, and the next run of the date cleans up.
    If the daemon itself is killed, the child is terminated with it (`locks.die_with`). Runs are
    started from the daemon's main thread: the death signal follows the forking thread.
    """

    def __init__(self, settings: Settings, grace_s: float) -> None:
        self.settings = settings
        self.grace_s = grace_s
        self.logs = settings.state_dir / "logs"

    def __call__(self, pipeline: Pipeline, logical_date: str, stop: threading.Event) -> RunResult:
        self.logs.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mlplatform-run-") as tmp:
            result_file = Path(tmp) / "result.json"
            command = [
                sys.executable,
                "-m",
                "mlplatform",
                "--env",
                self.settings.env,
                "--home",
                str(self.settings.state_dir),
            ]
            command += ["train"] if pipeline == "training" else ["score", "--date", logical_date]
            command += ["--result-json", str(result_file)]
            log_path = self.logs / f"{pipeline}-{logical_date}.log"
            with open(log_path, "a") as output:
                process = subprocess.Popen(
                    command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with(os.getpid()),  # noqa: PLW1509 - the hook only calls prctl
                )
                interrupted = self._wait(process, stop)
            if interrupted:
                return RunResult("interrupted", f"stopped by the scheduler shutdown (log: {log_path})")
            mlflow_run_id = None
            if result_file.exists():
                mlflow_run_id = json.loads(result_file.read_text()).get("mlflow_run_id")
            if process.returncode == 0:
                return RunResult("succeeded", mlflow_run_id=mlflow_run_id)
            return RunResult(
                "failed", f"{_last_error(log_path)} (exit {process.returncode}, log: {log_path})", mlflow_run_id
            )

    def _wait(self, process: subprocess.Popen[bytes], stop: threading.Event) -> bool:
        while process.poll() is None:
            if stop.wait(0.5):
                try:
                    process.wait(timeout=self.grace_s)
                    return False
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGTERM)
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(process.pid, signal.SIGKILL)
                        process.wait()
                    return True
        return False


def _last_error(log_path: Path) -> str:
    lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    return (errors or lines or ["no output"])[-1][:500]


class InProcessRunner:
    """Runs the pipelines in the daemon's process: no start-up cost, but cannot be aborted."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, pipeline: Pipeline, logical_date: str, stop: threading.Event) -> RunResult:
        try:
            if pipeline == "training":
                from mlplatform.flows.training import run_training

                return RunResult("succeeded", mlflow_run_id=run_training(self.settings).run_id)
            from mlplatform.flows.scoring import run_scoring

            return RunResult("succeeded", mlflow_run_id=run_scoring(self.settings, logical_date).run_id)
        except MLPlatformError as exc:
            return RunResult("failed", str(exc))


def input_readiness(settings: Settings, clients: Clients) -> Callable[[str], tuple[bool, str]] | None:
    """For partitioned file input: is `<input>/date=D/` complete (`_SUCCESS`, or N files)?"""
    source = settings.inference.input
    if not source:
        return None
    min_files = settings.schedule.input_min_files

    def check(logical_date: str) -> tuple[bool, str]:
        from pyarrow import fs as pafs

        filesystem, root = clients.filesystem_for(source)
        try:
            if filesystem.get_file_info(root).type != pafs.FileType.Directory:
                return True, "input is a single file"
            entries = filesystem.get_file_info(pafs.FileSelector(root))
            if not any(e.base_name.startswith("date=") for e in entries):
                return True, "input is not partitioned by date"
            folder = partition(root, logical_date)
            if filesystem.get_file_info(folder).type == pafs.FileType.NotFound:
                return False, f"{partition(source, logical_date)} does not exist"
            files = [e for e in filesystem.get_file_info(pafs.FileSelector(folder, recursive=True)) if e.is_file]
            if min_files is not None:
                count = sum(1 for e in files if file_format(e.path))
                return count >= min_files, f"{count} of {min_files} files"
            done = any(e.base_name == "_SUCCESS" for e in files)
            return done, "_SUCCESS present" if done else "no _SUCCESS marker yet"
        except OSError as exc:
            return False, f"cannot list {source}: {exc}"

    return check


def reconciler(settings: Settings, clients: Clients) -> Callable[[RunRecord], tuple[str, str | None] | None]:
    """What a run left 'running' by a killed daemon achieved, read from what it left: a scoring
    run whose `_SUCCESS` was written after it started committed; a training run that registered a
    version (its interrupted promotion finished first) trained. Children die with the daemon, so
    this happens only when the run got that far before it."""

    def reconcile(record: RunRecord) -> tuple[str, str | None] | None:
        if not record.started_at:
            return None
        if record.pipeline == "training":
            return _reconcile_training(settings, record.started_at)
        folder = date_folder(settings.data_root, settings.project, settings.model_name, record.logical_date)
        manifest = _committed_or_none(clients, folder) or {}
        if str(manifest.get("written_at", "")) < record.started_at:
            return None
        detail = "reconciled from the committed output (the scheduler died after the commit)"
        return detail, manifest.get("inference_run_id")

    return reconcile


def _reconcile_training(settings: Settings, started_at: str) -> tuple[str, str | None] | None:
    from datetime import datetime

    from mlplatform.flows.setup import open_mlflow

    registered = open_mlflow(settings).model
    if not registered.exists():
        return None
    with registered.promotion_lock():
        pass  # finishes the gate's alias moves if the run was killed in the middle of them
    since = datetime.fromisoformat(started_at)
    versions = [v for v in registered.versions() if v.created >= since]
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    decision = newest.tags.get("promotion.decision", "none")
    detail = f"reconciled from the registry: version {newest.version} registered, gate decision {decision}"
    return detail, newest.run_id


def build_scheduler(settings: Settings, in_process: bool) -> Scheduler:
    schedule = settings.schedule
    jobs = jobs_for(settings)
    if not jobs:
        raise BadInputError("both schedules are disabled", "enable one: MLPLATFORM_SCHEDULE__INFERENCE_ENABLED=true")
    config = DaemonConfig(
        missed_runs=schedule.missed_runs,
        grace_period=timedelta(seconds=schedule.grace_period_s),
        catch_up_limit=schedule.catch_up_limit,
        max_retries=schedule.max_retries,
        retry_backoff_s=schedule.retry_backoff_s,
        input_wait_timeout_s=schedule.input_wait_timeout_s,
    )
    runner = InProcessRunner(settings) if in_process else SubprocessRunner(settings, schedule.shutdown_grace_s)
    return Scheduler(
        jobs=jobs,
        runner=runner,
        history=history_for(settings),
        state_dir=settings.state_dir,
        config=config,
        clock=SystemClock(),
        input_check=input_readiness(settings, Clients()),
        reconcile=reconciler(settings, Clients()),
        retrain_check=policy_check(settings),
    )


def policy_check(settings: Settings) -> Callable[[], str | None] | None:
    """The retrain policy as the daemon asks it: the reasons when it says retrain (None when no
    rule is configured: the daemon then never asks)."""
    from mlplatform.flows.retrain import explain, retrain_policy

    if not retrain_policy(settings).can_fire:  # a cooldown alone never fires
        return None

    def check() -> str | None:
        decision = explain(settings)
        return decision.summary() if decision.action == "retrain" else None

    return check


@dataclass(frozen=True)
class BackfillResult:
    logical_date: str
    status: str
    detail: str


def backfill(settings: Settings, start: str, end: str, force: bool) -> list[BackfillResult]:
    """Score each logical date in order; a date with `_SUCCESS` is skipped unless `force`.

    Stops at the first failure (later dates are not run) and says so; history records all.
    """
    clients = Clients()
    history = history_for(settings)
    results: list[BackfillResult] = []
    for logical_date in dates_between(start, end):
        folder = date_folder(settings.data_root, settings.project, settings.model_name, logical_date)
        with pipeline_lock(settings.state_dir, "inference"):
            # checked under the lock: a backfill that held it before us may have just done this date
            manifest = None if force else _committed_or_none(clients, folder)
            if manifest is not None and _published(settings, clients, folder, manifest):
                history.record("inference", logical_date, None, "backfill", "skipped", "already complete (_SUCCESS)")
                results.append(BackfillResult(logical_date, "skipped", "already complete (_SUCCESS)"))
                continue
            if manifest is not None:  # committed, but its publish failed: publish, do not re-score
                outcome = _backfill_date(settings, logical_date, history, clients, results, publish_only=True)
            else:
                outcome = _backfill_date(settings, logical_date, history, clients, results)
        if outcome is None:
            break
    return results


def _committed_or_none(clients: Clients, folder: str) -> dict[str, object] | None:
    """The date's manifest; a corrupt one counts as not committed (re-scoring replaces it)."""
    try:
        return read_manifest(clients, folder)
    except CorruptControlFileError as exc:
        log.warning("%s: the date is scored again", exc.headline)
        return None


def _published(settings: Settings, clients: Clients, folder: str, manifest: dict[str, object]) -> bool:
    """Was the committed run of a date also published (when the settings publish at all)?"""
    if not settings.inference.kafka.enabled:
        return True
    return (read_published(clients, folder) or {}).get("inference_run_id") == manifest.get("inference_run_id")


def _backfill_date(
    settings: Settings,
    logical_date: str,
    history: RunHistory,
    clients: Clients,
    results: list[BackfillResult],
    publish_only: bool = False,
) -> ScoringOutcome | PublishOutcome | None:
    """One date of a backfill, recorded; None when it failed (the backfill stops there)."""
    from mlplatform.flows.publish import run_publish
    from mlplatform.flows.scoring import run_scoring

    row = history.start("inference", logical_date, None, "backfill")
    try:
        if publish_only:
            published = run_publish(settings, logical_date, clients=clients)
            detail = "published the committed output (it was not yet)"
            history.finish(row, "succeeded", detail, mlflow_run_id=published.inference_run_id)
            results.append(BackfillResult(logical_date, "succeeded", f"published {published.output_uri}"))
            return published
        outcome = run_scoring(settings, logical_date, clients=clients)
    except MLPlatformError as exc:
        history.finish(row, "failed", str(exc))
        results.append(BackfillResult(logical_date, "failed", str(exc)))
        event("backfill_stopped", logical_date=logical_date, error=str(exc))
        return None
    except BaseException:
        history.finish(row, "interrupted", "backfill interrupted")
        raise
    history.finish(row, "succeeded", mlflow_run_id=outcome.run_id)
    results.append(BackfillResult(logical_date, "succeeded", f"{outcome.rows} rows -> {outcome.output_uri}"))
    return outcome
