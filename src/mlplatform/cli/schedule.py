"""Schedules and runs: `schedule next | show`, the `scheduler` daemon, `runs`, `backfill`."""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict
from typing import Annotated

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load, state
from mlplatform.cli.logs import configure_logging
from mlplatform.cli.options import JsonOption

log = logging.getLogger("mlplatform")
app = typer.Typer(
    help="AWS schedule expressions: cron(), rate(), at().",
    no_args_is_help=True,
    epilog="Example: mlplatform schedule next 'rate(1 day)' -n 3",
)


@app.command("next", epilog="Example: mlplatform schedule next 'cron(0 2 ? * SUN *)' -n 3 --tz Europe/Berlin")
def schedule_next(
    expression: Annotated[str, typer.Argument(help="cron(...), rate(...) or at(...), as in EventBridge.")],
    after: Annotated[str | None, typer.Option(help="ISO-8601 start (default: now); naive = UTC.")] = None,
    count: Annotated[int, typer.Option("-n", "--count", min=1, max=10_000, help="How many fire times.")] = 5,
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone the expression is evaluated in.")] = "UTC",
) -> None:
    """Print the next fire times, one ISO-8601 UTC timestamp a line."""
    from datetime import UTC, datetime

    from mlplatform.errors import BadInputError
    from mlplatform.schedules.expressions import parse, to_iso

    schedule = parse(expression, tz)
    start = datetime.now(UTC)
    if after is not None:
        try:
            start = datetime.fromisoformat(after.replace("Z", "+00:00"))
        except ValueError:
            raise BadInputError(f"invalid --after {after!r}", "use ISO-8601, e.g. 2026-11-22T06:00:00Z") from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    for moment in schedule.fire_times(start, count):
        sys.stdout.write(to_iso(moment) + "\n")


@app.command("show", epilog="Example: mlplatform --env prod schedule show")
def schedule_show(ctx: typer.Context) -> None:
    """The configured schedules of this environment and their next fire times."""
    from datetime import UTC, datetime

    from mlplatform.schedules.expressions import parse, to_iso

    settings = load(ctx)
    config = settings.schedule
    listing = render.table(
        f"Schedules ({settings.env}, time zone {config.timezone})", "pipeline", "expression", "enabled", "next (UTC)"
    )
    now = datetime.now(UTC)
    for name, expression, enabled in (
        ("training", config.training_schedule, config.training_enabled),
        ("inference", config.inference_schedule, config.inference_enabled),
    ):
        upcoming = ", ".join(to_iso(t) for t in parse(expression, config.timezone).fire_times(now, 2))
        listing.add_row(name, expression, "yes" if enabled else "no", upcoming or "never")
    render.stdout().print(listing)


def scheduler(
    ctx: typer.Context,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Run pipelines in this process instead of child processes.")
    ] = False,
    log_format: Annotated[str, typer.Option(help="text (logfmt) or json (one JSON object a line).")] = "text",
) -> None:
    """Run training and inference on their schedules until SIGTERM/SIGINT (then exit 0)."""
    import signal

    from mlplatform.errors import BadInputError
    from mlplatform.flows.scheduled import build_scheduler

    if log_format not in ("text", "json"):
        raise BadInputError(f"invalid --log-format {log_format!r}", "use text or json")
    configure_logging(state(ctx).verbose, "json" if log_format == "json" else "text")
    settings = load(ctx)
    daemon = build_scheduler(settings, in_process)
    if settings.monitoring.report_path:  # the model's report, fresh after every run
        from pathlib import Path

        from mlplatform.web.report import write_report

        report = Path(settings.monitoring.report_path)
        daemon.after_run = lambda _pipeline: log.info("event=report_written path=%s", write_report(settings, report))

    def request_stop(signum: int, _frame: object) -> None:
        log.info("event=stop_requested signal=%s", signal.Signals(signum).name)
        daemon.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    daemon.run_forever()


def runs(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option(help="training or inference.")] = None,
    limit: Annotated[int, typer.Option(help="Newest first, at most this many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Run history: scheduled, policy-triggered, backfilled and manual runs, with status and why."""
    from mlplatform.flows.scheduled import history_for

    records = history_for(load(ctx)).list(pipeline, limit)
    if as_json:
        render.print_json([asdict(r) for r in records])
        return
    if not records:
        render.stderr().print("No runs recorded yet: train, score, backfill and the scheduler record theirs.")
        return
    columns = (
        "id",
        "pipeline",
        "date",
        "scheduled (UTC)",
        "trigger",
        "try",
        "status",
        "started",
        "ended",
        "mlflow run",
        "why / error",
    )
    listing = render.table("Runs", *columns)
    for r in records:
        cells = (
            r.id,
            r.pipeline,
            r.logical_date,
            r.scheduled_at,
            r.trigger,
            r.attempt,
            r.status,
            r.started_at,
            r.ended_at,
            (r.mlflow_run_id or "")[:12],
            "; ".join(part for part in (r.detail, r.error) if part),
        )
        listing.add_row(*("" if c is None else str(c) for c in cells))
    render.stdout().print(listing)


def backfill(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First logical date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last logical date, YYYY-MM-DD.")],
    pipeline: Annotated[str, typer.Option(help="Only inference has logical dates to fill.")] = "inference",
    force: Annotated[bool, typer.Option(help="Re-run dates that already have _SUCCESS.")] = False,
) -> None:
    """Score every date in a range, in order; dates already complete are skipped unless --force."""
    from mlplatform.errors import BadInputError
    from mlplatform.flows.scheduled import backfill as run_backfill

    if pipeline != "inference":
        raise BadInputError(f"cannot backfill {pipeline!r}", "only --pipeline inference has logical dates to fill")
    results = run_backfill(load(ctx), start, end, force)
    listing = render.table("Backfill", "date", "status", "detail")
    for r in results:
        listing.add_row(r.logical_date, r.status, r.detail)
    render.stdout().print(listing)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="schedule")
    root.command(epilog="Example: mlplatform --env staging scheduler --log-format json")(scheduler)
    root.command(epilog="Example: mlplatform runs --pipeline inference --limit 10")(runs)
    root.command(epilog="Example: mlplatform backfill --pipeline inference --from 2026-11-01 --to 2026-11-07")(backfill)
