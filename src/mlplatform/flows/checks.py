"""`mlplatform check`: can a scoring run start? Each check says OK, FAIL (with why) or SKIP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.dates import logical_date_of
from mlplatform.errors import MLPlatformError
from mlplatform.flows.setup import open_mlflow
from mlplatform.sinks import build_sinks


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Literal["OK", "FAIL", "SKIP"]
    detail: str


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, MLPlatformError) else f"{type(exc).__name__}: {exc}"


def check_mlflow(settings: Settings) -> list[CheckResult]:
    mlflow = open_mlflow(settings)
    try:
        mlflow.connection.check_reachable()
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        return [
            CheckResult("mlflow", "FAIL", _failure(exc)),
            CheckResult("model", "SKIP", "MLflow is unreachable"),
        ]
    results = [CheckResult("mlflow", "OK", mlflow.tracking_uri)]
    try:
        if mlflow.model.exists():
            with mlflow.model.promotion_lock() as finished:
                if finished is not None:
                    detail = f"finished the interrupted {finished.action} of v{finished.version} ({finished.at})"
                    results.append(CheckResult("promotion", "OK", detail))
        model = mlflow.loader.resolve(settings.model_uri)
        results.append(CheckResult("model", "OK", f"{settings.model_uri} -> {model.label}"))
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        results.append(CheckResult("model", "FAIL", _failure(exc)))
    return results


def check_sinks(settings: Settings, clients: Clients) -> list[CheckResult]:
    results = []
    sinks = build_sinks(settings, clients)  # storage first, as people read it
    for sink in sinks:
        try:
            results.append(CheckResult(sink.name, "OK", sink.check()))
        except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
            results.append(CheckResult(sink.name, "FAIL", _failure(exc)))
    if not any(sink.name == "kafka" for sink in sinks):
        results.append(CheckResult("kafka", "SKIP", "KAFKA_BOOTSTRAP_SERVERS is not set (no Kafka sink)"))
    return results


def check_control_files(settings: Settings, clients: Clients) -> list[CheckResult]:
    """Manifests and pending-run entries in the data root that cannot be trusted (`sinks.control`)."""
    from mlplatform.layout import model_folder
    from mlplatform.sinks.files import corrupt_control_files

    folder = model_folder(settings.data_root, settings.project, settings.model_name)
    try:
        found = corrupt_control_files(clients, folder, settings.data_root)
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        return [CheckResult("control files", "FAIL", _failure(exc))]
    if not found:
        return [CheckResult("control files", "OK", f"every manifest and pending entry under {folder} is readable")]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    fix = "re-score the date to replace it, or delete the file"
    return [CheckResult("control files", "FAIL", f"{found[0]}{more}; {fix}")]


def check_events(settings: Settings) -> list[CheckResult]:
    """Each event channel: how many events wait in the outbox, and its last error."""
    from mlplatform.flows.events import statuses

    results = []
    for status in statuses(settings):
        detail = f"{status.behind} behind"
        if status.failures:
            detail += f", {status.failures} failed deliveries, last: {status.last_error}"
        results.append(CheckResult(f"events {status.channel}", "FAIL" if status.failures else "OK", detail))
    return results


def check_schedules(settings: Settings, now: datetime | None = None) -> list[CheckResult]:
    """Fires the scheduler should have dealt with by now (older than the grace period) but has
    no record of: the daemon was down or is stuck. Nothing to say before it ever ran here."""
    from mlplatform.flows.scheduled import history_for, jobs_for
    from mlplatform.schedules.daemon import overdue_fires

    if not (settings.state_dir / "runs.db").exists():
        return [CheckResult("schedule", "SKIP", "the scheduler has not run on this state directory")]
    history = history_for(settings)
    grace = timedelta(seconds=settings.schedule.grace_period_s)
    now = now or datetime.now(UTC)
    results = []
    for job in jobs_for(settings):
        handled = history.last_scheduled(job.pipeline)
        if handled is None:
            results.append(CheckResult(f"schedule {job.pipeline}", "SKIP", "no scheduled run recorded yet"))
            continue
        overdue = overdue_fires(job.schedule, handled, now, grace)
        if not overdue:
            detail = f"last fire handled {handled:%Y-%m-%d %H:%M} UTC"
            results.append(CheckResult(f"schedule {job.pipeline}", "OK", detail))
            continue
        first, last = (logical_date_of(fire, job.schedule.zone) for fire in (overdue[0], overdue[-1]))
        more = "+" if len(overdue) == 1000 else ""
        backfill = f"mlplatform backfill --from {first} --to {last}"
        run_them = backfill if job.pipeline == "inference" else "mlplatform train"
        fix = f"start the scheduler (mlplatform scheduler) or run them: {run_them}"
        results.append(
            CheckResult(
                f"schedule {job.pipeline}",
                "FAIL",
                f"{len(overdue)}{more} fires missed beyond the {settings.schedule.grace_period_s}s grace period, "
                f"oldest {overdue[0]:%Y-%m-%d %H:%M} UTC (last handled {handled:%Y-%m-%d %H:%M} UTC); {fix}",
            )
        )
    return results


def run_checks(settings: Settings, clients: Clients | None = None) -> list[CheckResult]:
    clients = clients or Clients()
    return [
        *check_mlflow(settings),
        *check_sinks(settings, clients),
        *check_control_files(settings, clients),
        *check_events(settings),
        *check_schedules(settings),
    ]
