"""The closed loop: `mlplatform labels add`, `quality`, `retrain explain | check`, `events`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load
from mlplatform.cli.options import JsonOption, ModelNameOption, TrackingOption, logical_date

if TYPE_CHECKING:
    from mlplatform.flows.quality import DateQuality
    from mlplatform.monitoring.policy import Decision

labels_app = typer.Typer(
    help="Ground-truth labels for scored predictions.",
    no_args_is_help=True,
    epilog="Example: mlplatform labels add --input labels.csv --model-name churn-model",
)
retrain_app = typer.Typer(
    help="Retraining on evidence (quality, drift, age), besides the schedule.",
    no_args_is_help=True,
    epilog="Example: mlplatform retrain explain --model-name churn-model",
)
FromOption = Annotated[str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="First date.")]
ToOption = Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Last date.")]


@labels_app.command(
    "add", epilog="Example: mlplatform labels add -i s3://bucket/labels/2026-11-20.csv --date 2026-11-20"
)
def labels_add(
    ctx: typer.Context,
    input_uri: Annotated[str, typer.Option("--input", "-i", help="CSV/Parquet file or folder, local or s3://.")],
    model_name: ModelNameOption = None,
    date: Annotated[
        str | None,
        typer.Option("--date", metavar="YYYY-MM-DD", help="Prediction date of every label (else a 'date' column)."),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Column with the predictions' row id (default: the scoring id column).")
    ] = None,
    label_column: Annotated[
        str | None, typer.Option(help="Column with the label (default: the model's target).")
    ] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Add labels for scored predictions: one line per date with its coverage."""
    from mlplatform.flows.labels import labels_summary, run_labels_add

    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri)
    day = logical_date(date) if date else None
    outcome = run_labels_add(settings, input_uri, date=day, id_column=id_column, label_column=label_column)
    out = render.stdout()
    for line in labels_summary(outcome):
        out.print(line, markup=False)


def quality(
    ctx: typer.Context,
    model_name: ModelNameOption = None,
    start: FromOption = None,
    end: ToOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    tracking_uri: TrackingOption = None,
) -> None:
    """Realized quality per date and variant, from the labels that arrived.

    For each date: labels, coverage, the main metric with a 95% bootstrap interval, the version's
    holdout value as reference, the label-free estimate and a status (ok, degraded, insufficient,
    no-labels)."""
    from mlplatform.flows.quality import run_quality

    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri)
    results = run_quality(
        settings, start=logical_date(start) if start else None, end=logical_date(end) if end else None
    )
    if as_json:
        for result in results:
            sys.stdout.write(json.dumps(result.as_json()) + "\n")
        return
    if not results:
        render.stderr().print(f"No scored dates for {settings.model_name!r} in that range.")
        return
    render.stdout().print(_quality_table(settings.model_name, results))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _quality_table(model: str, results: list[DateQuality]) -> object:
    listing = render.table(
        f"{model}: realized quality",
        *("date", "variant", "version", "labels", "coverage", "metric", "value", "95% interval", "reference"),
        *("estimate", "status"),
    )
    colours = {"ok": "green", "degraded": "red", "insufficient": "yellow", "no-labels": "dim"}
    for r in results:
        interval = f"{r.ci_low:.3f} - {r.ci_high:.3f}" if r.ci_low is not None and r.ci_high is not None else ""
        status = f"[{colours.get(r.status, 'white')}]{r.status}[/]"
        cells = (r.date, r.variant, r.model_version or "", f"{r.labels:,}", f"{r.coverage:.1%}", r.metric)
        listing.add_row(*cells, _number(r.value), interval, _number(r.reference), _number(r.estimate), status)
    return listing


def _print_decision(decision: Decision, as_json: bool) -> None:
    if as_json:
        render.print_json(decision.as_dict())
        return
    out = render.stdout()
    out.print(decision.summary(), markup=False)
    for reason in decision.reasons:
        mark = "fired" if reason.fired else "     "
        out.print(f"  {mark}  {reason.rule}: {reason.detail}", markup=False)


@retrain_app.command("explain", epilog="Example: mlplatform retrain explain --json")
def retrain_explain(
    ctx: typer.Context,
    model_name: ModelNameOption = None,
    as_json: JsonOption = False,
    tracking_uri: TrackingOption = None,
) -> None:
    """The retrain decision (retrain, wait, cooldown) and every reason with its evidence."""
    from mlplatform.flows.retrain import explain

    _print_decision(explain(load(ctx, model_name=model_name, tracking_uri=tracking_uri)), as_json)


@retrain_app.command("check", epilog="Example: mlplatform retrain check --model-name churn-model")
def retrain_check(ctx: typer.Context, model_name: ModelNameOption = None, tracking_uri: TrackingOption = None) -> None:
    """Train now when the policy says so (the gate decides promotion); the decision on one line."""
    from mlplatform.flows.retrain import retrain_check as check

    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri)
    outcome = check(settings, render.RichReporter(render.stderr()))
    line = outcome.decision.summary()
    if outcome.version is not None:
        became = "champion" if outcome.promoted else "challenger"
        line += f" -> trained version {outcome.version} (run {outcome.run_id}), {became}"
    render.stdout().print(line, markup=False)


def events(
    ctx: typer.Context,
    model_name: Annotated[str | None, typer.Option("--model-name", help="Only this model's events.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this type (e.g. promoted).")] = None,
    since: Annotated[str | None, typer.Option(metavar="YYYY-MM-DD", help="Only events from this day on (UTC).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")] = False,
) -> None:
    """What happened to the models, from the local event log.

    Versions registered, gate decisions, promotions and rollbacks, dates scored or failed, drift,
    labels added, quality drops and retrains."""
    from mlplatform.events.log import EventLog
    from mlplatform.events.model import EVENT_TYPES, Event

    if event_type is not None and event_type not in EVENT_TYPES:
        from mlplatform.errors import BadInputError

        raise BadInputError(f"unknown event type {event_type!r}", f"use one of: {', '.join(EVENT_TYPES)}")
    settings = load(ctx)
    log = EventLog(settings.state_dir)

    def wanted(event: Event) -> bool:
        return (
            (model_name is None or event.model == model_name)
            and (event_type is None or event.type == event_type)
            and (since is None or event.time[:10] >= since)
        )

    def show(event: Event) -> None:
        if as_json:
            sys.stdout.write(event.to_json() + "\n")
            sys.stdout.flush()
            return
        where = " ".join(part for part in (f"v{event.version}" if event.version else "", event.date or "") if part)
        details = ", ".join(f"{k}={v}" for k, v in event.details.items())[:160]
        render.stdout().print(f"{event.time}  {event.type:<18} {event.model} {where}  {details}", markup=False)

    existing, position = log.read()
    matching = [event for _, event in existing if wanted(event)]
    for event in matching:
        show(event)
    if not matching and not follow and not as_json:
        render.stderr().print("No events yet: they are recorded by train, score, labels add and promotions.")
    if follow:
        try:
            for event in log.follow(position):
                if wanted(event):
                    show(event)
        except KeyboardInterrupt:
            return


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
    app.command(epilog="Example: mlplatform quality --model-name churn-model --from 2026-11-01 --json")(quality)
    app.add_typer(retrain_app, name="retrain")
    app.command(epilog="Example: mlplatform events --type promoted --since 2026-11-01 --follow")(events)
