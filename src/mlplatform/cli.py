"""The `mlplatform` command. Thin: parse flags, load settings, call a pipeline, print.

Heavy libraries (MLflow, scikit-learn, pandas) are imported inside commands so that
`mlplatform --help` answers fast. Errors are printed in one place (`_Group.invoke`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from typer.core import TyperGroup

from mlplatform import __version__
from mlplatform.errors import MLPlatformError

if TYPE_CHECKING:
    from rich.console import Console

    from mlplatform.pipelines.scoring import ScoringOutcome
    from mlplatform.pipelines.training import TrainingOutcome
    from mlplatform.settings import Settings

log = logging.getLogger("mlplatform")


@dataclass
class CliState:
    env: str | None = None
    home: Path | None = None
    verbose: bool = False


class _Group(TyperGroup):
    """Root group: the single place where our errors become a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MLPlatformError as exc:
            state = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
            _print_error(exc, verbose=state.verbose)
            raise typer.Exit(exc.exit_code) from None


def _print_error(exc: MLPlatformError, verbose: bool) -> None:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    # Plain print: one unwrapped line a grep or a log collector can read, then the fix.
    print(f"Error: {exc.headline}", file=sys.stderr)
    if exc.fix:
        print(f"  Fix: {exc.fix}", file=sys.stderr)


app = typer.Typer(
    cls=_Group,
    help="Train, track, promote and batch-score models with MLflow - on a laptop or on AWS SageMaker.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
model_app = typer.Typer(help="Registered model versions, aliases and their history.", no_args_is_help=True)
app.add_typer(model_app, name="model")
config_app = typer.Typer(help="Show the effective settings and where each can be set.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlplatform {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            help="Environment: local (default), staging or prod; reads config/<env>.toml.",
            envvar="MLPLATFORM_ENV",
            show_envvar=True,
        ),
    ] = None,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="State directory (MLflow store, artifacts, outputs).",
            envvar="MLPLATFORM_HOME",
            show_envvar=True,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and full tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options; every command also reads environment variables and config/<env>.toml."""
    ctx.obj = CliState(env=env, home=home, verbose=verbose)
    _configure_logging(verbose)


def _configure_logging(verbose: bool) -> None:
    """Logging is configured here and only here: library code just gets loggers."""
    from rich.logging import RichHandler

    # No network calls home from MLflow on a machine that may have no internet.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    handler = RichHandler(console=_stderr(), show_path=verbose, rich_tracebacks=verbose, markup=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    logging.getLogger("mlplatform").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("mlflow", "alembic", "botocore", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    # uv-made environments have no pip; MLflow warns about that on every log_model.
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    if not verbose:
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")


def _table(title: str, *columns: str, show_header: bool = True) -> Any:
    """A rich table that folds long cells instead of cutting them (output is often piped)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=show_header)
    for index, column in enumerate(columns):
        table.add_column(column, overflow="fold", style="bold" if not show_header and index == 0 else None)
    return table


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def _stdout() -> Console:
    from rich.console import Console

    return Console(soft_wrap=True)


def _settings(ctx: typer.Context, **overrides: Any) -> Settings:
    from mlplatform.settings import load_settings

    state: CliState = ctx.obj
    return load_settings(state.env, home=state.home, **overrides)


class RichReporter:
    """Progress for pipeline steps: a spinner per running step, a tick and time when done."""

    def __init__(self, console: Console) -> None:
        self.console = console

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        import time

        started = time.perf_counter()
        with self.console.status(f"{description}...", spinner="dots"):
            yield
        self.console.print(f"[green]✓[/] {description} [dim]{time.perf_counter() - started:.2f}s[/]")

    @contextlib.contextmanager
    def bar(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        started = time.perf_counter()
        done = 0
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(description, total=total, rate="-")

            def advance(rows: int) -> None:
                nonlocal done
                done += rows
                rate = done / max(time.perf_counter() - started, 1e-9)
                bar.update(task, advance=rows, rate=f"{rate:,.0f}")

            yield advance
        elapsed = time.perf_counter() - started
        self.console.print(
            f"[green]✓[/] {description}: {done:,} rows [dim]{elapsed:.2f}s, {done / max(elapsed, 1e-9):,.0f} rows/s[/]"
        )


# -- train ----------------------------------------------------------------------------------

DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        "-d",
        help="CSV/Parquet file or folder, local or s3://. Default: built-in Iris.",
        envvar="MLPLATFORM_TRAIN_DATA",
        show_envvar=False,
    ),
]
TargetOption = Annotated[
    str | None, typer.Option("--target", "-t", help="Label column (default: 'species' for Iris, else 'target').")
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Hyperparameter override key=value, repeatable (e.g. -p n_estimators=200)."),
]
ModelNameOption = Annotated[str | None, typer.Option("--model-name", help="Registered model name [env: MODEL_NAME].")]
ExperimentOption = Annotated[str | None, typer.Option("--experiment", help="MLflow experiment [env: EXPERIMENT_NAME].")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ResultJsonOption = Annotated[
    Path | None, typer.Option("--result-json", hidden=True, help="Write the MLflow run id here (for the scheduler).")
]
TrackingOption = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI or SageMaker MLflow ARN [env: MLFLOW_TRACKING_URI]."),
]


def _train_settings(
    ctx: typer.Context,
    data: str | None,
    target: str | None,
    params: list[str] | None,
    model_name: str | None,
    experiment: str | None,
    tracking_uri: str | None,
) -> Settings:
    from mlplatform.training.params import build_params, parse_assignments

    settings = _settings(
        ctx,
        train_data=data,
        target_column=target,
        model_name=model_name,
        experiment_name=experiment,
        tracking_uri=tracking_uri,
    )
    if params:
        overrides = parse_assignments(params)
        settings = settings.model_copy(update={"hyperparameters": build_params(overrides, settings.hyperparameters)})
    return settings


@app.command(epilog="Example: mlplatform train --data s3://bucket/iris.parquet --target species -p n_estimators=300")
def train(
    ctx: typer.Context,
    data: DataOption = None,
    target: TargetOption = None,
    param: ParamOption = None,
    model_name: ModelNameOption = None,
    experiment: ExperimentOption = None,
    tracking_uri: TrackingOption = None,
    result_json: ResultJsonOption = None,
) -> None:
    """Train a RandomForest, log it to MLflow, register it and run the promotion gate."""
    settings = _train_settings(ctx, data, target, param, model_name, experiment, tracking_uri)
    _write_result(result_json, _run_training(settings).run_id)


@app.command(epilog="Example: mlplatform run   (what `make run` runs)")
def run(
    ctx: typer.Context,
    data: DataOption = None,
    target: TargetOption = None,
    param: ParamOption = None,
    model_name: ModelNameOption = None,
    experiment: ExperimentOption = None,
    tracking_uri: TrackingOption = None,
    run_date: DateOption = None,
) -> None:
    """The main job: train, register and promote, then score a batch with the champion."""
    settings = _train_settings(ctx, data, target, param, model_name, experiment, tracking_uri)
    _run_training(settings)
    _run_scoring(settings, _logical_date(run_date))


def _run_training(settings: Settings) -> TrainingOutcome:
    from mlplatform.pipelines.training import run_training

    err = _stderr()
    err.print(
        f"Training [bold]{settings.model_name}[/] on {settings.train_data or 'built-in Iris'} "
        f"[dim](env {settings.env}, MLflow {settings.resolved_tracking_uri})[/]"
    )
    outcome = run_training(settings, RichReporter(err))
    _print_training_summary(outcome, settings)
    return outcome


def _print_training_summary(outcome: TrainingOutcome, settings: Settings) -> None:
    decision = outcome.decision
    table = _table(f"Training run {outcome.run_id}", "", "", show_header=False)
    table.add_row("Model", f"{outcome.model_name} v{outcome.version}")
    table.add_row("Data", f"{outcome.data_source} ({outcome.rows} rows)")
    for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro", "training_time_s"):
        table.add_row(name, f"{outcome.metrics[name]:.4f}")
    verdict = (
        f"[green]{settings.promotion.champion_alias}[/]"
        if decision.promote
        else (f"[yellow]{settings.promotion.challenger_alias}[/]")
    )
    table.add_row("Promotion", f"{verdict} - {decision.reason}")
    table.add_row("Artifacts", outcome.artifact_uri)
    table.add_row("MLflow", outcome.tracking_uri)
    table.add_row("Took", f"{outcome.seconds:.1f}s")
    out = _stdout()
    out.print(table)
    out.print(f"Open the MLflow UI with: [bold]{_ui_hint(settings)}[/]")


def _ui_hint(settings: Settings) -> str:
    if settings.uses_embedded_store:
        where = "" if settings.home == Path(".mlplatform") else " with the same --home/MLPLATFORM_HOME"
        return f"mlplatform ui{where}   (then open http://127.0.0.1:5000)"
    uri = settings.resolved_tracking_uri
    if uri.startswith("arn:aws:sagemaker:"):
        name = uri.rsplit("/", 1)[-1]
        return (
            "SageMaker Studio > MLflow, or: "
            f"aws sagemaker create-presigned-mlflow-tracking-server-url --tracking-server-name {name}"
        )
    return uri


# -- score ----------------------------------------------------------------------------------

DateOption = Annotated[
    str | None, typer.Option("--date", help="Logical date of the run, YYYY-MM-DD (default: today, UTC).")
]


def _logical_date(value: str | None) -> str:
    from datetime import UTC, date, datetime

    if value is None:
        return datetime.now(UTC).date().isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        from mlplatform.errors import BadInputError

        raise BadInputError(f"invalid --date {value!r}", "use YYYY-MM-DD, e.g. --date 2026-11-22") from None


@app.command(
    epilog="Examples: mlplatform score --rows 1000000 · mlplatform score --input s3://bucket/in/ --date 2026-11-22"
)
def score(
    ctx: typer.Context,
    model_uri: Annotated[
        str | None,
        typer.Option(
            "--model-uri",
            help="models:/NAME@ALIAS, models:/NAME/VERSION|STAGE, runs:/ID/PATH "
            "[env: MLFLOW_MODEL_URI; default models:/<MODEL_NAME>@production]",
        ),
    ] = None,
    input_uri: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="CSV/Parquet file, folder, or partitioned root (date=YYYY-MM-DD), local "
            "or s3://. Default: generated rows.",
        ),
    ] = None,
    rows: Annotated[int | None, typer.Option(help="Generated rows (without --input).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the generated rows.")] = None,
    run_date: DateOption = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows read and scored at a time.")] = None,
    output_format: Annotated[str | None, typer.Option("--format", help="parquet (default), csv or jsonl.")] = None,
    on_bad_rows: Annotated[
        str | None, typer.Option(help="fail (default) or quarantine rows with nulls/NaN/inf.")
    ] = None,
    data_root: Annotated[
        str | None, typer.Option(help="Output root, a folder or s3://bucket/prefix [default <home>/data].")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Input column with the row id.")] = None,
    fail_on_drift: Annotated[
        bool | None, typer.Option("--fail-on-drift/--warn-on-drift", help="Exit 1 when a feature drifts.")
    ] = None,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
    result_json: ResultJsonOption = None,
) -> None:
    """Score a batch with the promoted model; write predictions per date and publish to Kafka."""
    settings = _settings(ctx, model_name=model_name, tracking_uri=tracking_uri)
    flags = {
        "model_uri": model_uri,
        "input": input_uri,
        "rows": rows,
        "seed": seed,
        "batch_size": batch_size,
        "output_format": output_format,
        "on_bad_rows": on_bad_rows,
        "data_root": data_root,
        "id_column": id_column,
    }
    settings = _with_inference(settings, {k: v for k, v in flags.items() if v is not None}, fail_on_drift)
    _write_result(result_json, _run_scoring(settings, _logical_date(run_date)).run_id)


def _write_result(path: Path | None, run_id: str) -> None:
    if path is not None:
        import json

        path.write_text(json.dumps({"mlflow_run_id": run_id}))


def _with_inference(settings: Settings, overrides: dict[str, Any], fail_on_drift: bool | None) -> Settings:
    """Apply flags to the inference settings, validated like every other source."""
    from pydantic import ValidationError

    from mlplatform.errors import ConfigError
    from mlplatform.settings import InferenceSettings
    from mlplatform.training.params import describe_validation_error

    current = settings.inference.model_dump()
    if fail_on_drift is not None:
        current["drift"]["fail_on_drift"] = fail_on_drift
    try:
        inference = InferenceSettings.model_validate(current | overrides)
    except ValidationError as exc:
        headline, allowed = describe_validation_error(exc, InferenceSettings, "option ")
        raise ConfigError(headline, allowed) from None
    return settings.model_copy(update={"inference": inference})


def _run_scoring(settings: Settings, run_date: str) -> ScoringOutcome:
    from mlplatform.pipelines.scoring import run_scoring

    err = _stderr()
    sinks = "files" + (f" + Kafka topic {settings.inference.kafka.topic}" if settings.inference.kafka.enabled else "")
    err.print(f"Scoring {run_date} with [bold]{settings.model_uri}[/] -> {sinks}")
    outcome = run_scoring(settings, run_date, RichReporter(err))
    _print_scoring_summary(outcome)
    return outcome


def _print_scoring_summary(outcome: ScoringOutcome) -> None:
    table = _table(f"Inference run {outcome.run_id} for {outcome.run_date}", "", "", show_header=False)
    table.add_row("Model", outcome.model)
    table.add_row("Input", outcome.source)
    table.add_row("Rows", f"{outcome.rows:,} scored, {outcome.bad_rows:,} quarantined")
    table.add_row("Speed", f"{outcome.rows_per_second:,.0f} rows/s ({outcome.seconds:.1f}s in all)")
    total = max(outcome.rows, 1)
    table.add_row("Classes", ", ".join(f"{k} {v / total:.1%}" for k, v in outcome.class_counts.items()))
    table.add_row("Output", f"{outcome.output_uri} (_SUCCESS written)")
    if outcome.kafka is not None:
        table.add_row(
            "Kafka", f"{outcome.kafka.delivered:,} of {outcome.kafka.produced:,} acknowledged on {outcome.kafka.topic}"
        )
    if outcome.drift is not None:
        drifted = ", ".join(outcome.drift.drifted) or "none"
        table.add_row("Drift", f"max PSI {outcome.drift.max_psi:.3f}; drifted: {drifted}")
    _stdout().print(table)


# -- check ----------------------------------------------------------------------------------


@app.command(epilog="Example: KAFKA_BOOTSTRAP_SERVERS=broker:9092 mlplatform check")
def check(
    ctx: typer.Context,
    model_uri: Annotated[str | None, typer.Option("--model-uri", help="Model URI to resolve.")] = None,
    data_root: Annotated[str | None, typer.Option(help="Output root to test for writes.")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Can a run start? MLflow + model, storage, Kafka: one OK/FAIL line each; exit 1 if any fails."""
    from mlplatform.pipelines.checks import run_checks

    settings = _settings(ctx, tracking_uri=tracking_uri)
    overrides = {k: v for k, v in {"model_uri": model_uri, "data_root": data_root}.items() if v is not None}
    settings = _with_inference(settings, overrides, None)
    results = run_checks(settings)
    out = _stdout()
    for result in results:
        mark = {"OK": "[green]OK[/]  ", "FAIL": "[red]FAIL[/]", "SKIP": "[dim]SKIP[/]"}[result.status]
        out.print(f"{mark} {result.name}: {result.detail}")
    if any(r.status == "FAIL" for r in results):
        raise typer.Exit(1)


# -- schedules ------------------------------------------------------------------------------

schedule_app = typer.Typer(help="AWS schedule expressions: cron(), rate(), at().", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")


@schedule_app.command("next", epilog="Example: mlplatform schedule next 'cron(0 2 ? * SUN *)' -n 3 --tz Europe/Berlin")
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


@schedule_app.command("show")
def schedule_show(ctx: typer.Context) -> None:
    """The configured schedules of this environment and their next fire times."""
    from datetime import UTC, datetime

    from mlplatform.schedules.expressions import parse, to_iso

    settings = _settings(ctx)
    config = settings.schedule
    table = _table(f"Schedules ({settings.env}, time zone {config.timezone})", "pipeline", "expression", "enabled",
                   "next (UTC)")  # fmt: skip
    now = datetime.now(UTC)
    for name, expression, enabled in (
        ("training", config.training_schedule, config.training_enabled),
        ("inference", config.inference_schedule, config.inference_enabled),
    ):
        upcoming = ", ".join(to_iso(t) for t in parse(expression, config.timezone).fire_times(now, 2))
        table.add_row(name, expression, "yes" if enabled else "no", upcoming or "never")
    _stdout().print(table)


@app.command(epilog="Example: mlplatform --env staging scheduler --log-format json")
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
    from mlplatform.pipelines.scheduled import build_scheduler

    if log_format not in ("text", "json"):
        raise BadInputError(f"invalid --log-format {log_format!r}", "use text or json")
    settings = _settings(ctx)
    daemon = build_scheduler(settings, in_process, json_logs=log_format == "json")

    def request_stop(signum: int, _frame: object) -> None:
        log.info("event=stop_requested signal=%s", signal.Signals(signum).name)
        daemon.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    daemon.run_forever()


@app.command()
def runs(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option(help="training or inference.")] = None,
    limit: Annotated[int, typer.Option(help="Newest first, at most this many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Run history of the scheduler and backfills: status, times, errors, MLflow run ids."""
    from mlplatform.pipelines.scheduled import history_for

    records = history_for(_settings(ctx)).list(pipeline, limit)
    if as_json:
        _print_json([asdict(r) for r in records])
        return
    if not records:
        _stderr().print("No runs recorded yet: start `mlplatform scheduler` or run `mlplatform backfill`.")
        return
    columns = ("id", "pipeline", "date", "scheduled (UTC)", "trigger", "try", "status", "started", "ended",
               "mlflow run", "error")  # fmt: skip
    table = _table("Runs", *columns)
    for r in records:
        cells = (r.id, r.pipeline, r.logical_date, r.scheduled_at, r.trigger, r.attempt, r.status, r.started_at,
                 r.ended_at, (r.mlflow_run_id or "")[:12], r.error)  # fmt: skip
        table.add_row(*("" if c is None else str(c) for c in cells))
    _stdout().print(table)


@app.command(epilog="Example: mlplatform backfill --pipeline inference --from 2026-11-01 --to 2026-11-07")
def backfill(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First logical date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last logical date, YYYY-MM-DD.")],
    pipeline: Annotated[str, typer.Option(help="Only inference has logical dates to fill.")] = "inference",
    force: Annotated[bool, typer.Option(help="Re-run dates that already have _SUCCESS.")] = False,
) -> None:
    """Score every date in a range, in order; dates already complete are skipped unless --force."""
    from mlplatform.errors import BadInputError
    from mlplatform.pipelines.scheduled import backfill as run_backfill

    if pipeline != "inference":
        raise BadInputError(f"cannot backfill {pipeline!r}", "only --pipeline inference has logical dates to fill")
    results = run_backfill(_settings(ctx), start, end, force)
    table = _table("Backfill", "date", "status", "detail")
    for r in results:
        table.add_row(r.logical_date, r.status, r.detail)
    _stdout().print(table)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


# -- sagemaker ------------------------------------------------------------------------------

sagemaker_app = typer.Typer(help="SageMaker pipeline definitions and execution parameters.", no_args_is_help=True)
app.add_typer(sagemaker_app, name="sagemaker")
KindArgument = Annotated[str, typer.Argument(help="training or inference.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")]


def _kind(value: str) -> Any:
    from mlplatform.errors import BadInputError

    if value not in ("training", "inference"):
        raise BadInputError(f"unknown pipeline {value!r}", "use training or inference")
    return value


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text + "\n")
        _stderr().print(f"wrote {out}")


@sagemaker_app.command("definition", epilog="Example: mlplatform --env prod sagemaker definition inference -o p.json")
def sagemaker_definition(ctx: typer.Context, kind: KindArgument, out: OutOption = None) -> None:
    """Render the SageMaker pipeline definition JSON (no network); checked against botocore."""
    from mlplatform.errors import PipelineError
    from mlplatform.sagemaker.definitions import render, render_json
    from mlplatform.sagemaker.validation import validate_step_arguments

    settings = _settings(ctx)
    problems = validate_step_arguments(render(settings, _kind(kind)))
    if problems:
        raise PipelineError(f"the rendered definition is invalid: {problems[0]}", "check the aws.* settings")
    _emit(render_json(settings, _kind(kind)), out)


@sagemaker_app.command("params", epilog="Example: mlplatform sagemaker params inference --date 2026-11-22 -o p.json")
def sagemaker_params(
    ctx: typer.Context, kind: KindArgument, run_date: DateOption = None, out: OutOption = None
) -> None:
    """JSON for `aws sagemaker start-pipeline-execution --cli-input-json file://FILE`."""
    import json

    from mlplatform.sagemaker.definitions import AUTO_DATE, execution_parameters

    logical = _logical_date(run_date) if run_date else AUTO_DATE
    _emit(json.dumps(execution_parameters(_settings(ctx), _kind(kind), logical), indent=2), out)


# -- model ----------------------------------------------------------------------------------


def _registry(ctx: typer.Context, model_name: str | None, tracking_uri: str | None) -> tuple[Any, Settings]:
    from mlplatform.registry.mlflow_store import MlflowRegistry

    settings = _settings(ctx, model_name=model_name, tracking_uri=tracking_uri)
    return MlflowRegistry.from_settings(settings), settings


@model_app.command("list")
def model_list(
    ctx: typer.Context,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many versions, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Versions of the registered model with aliases, holdout metrics and gate decisions."""
    registry, settings = _registry(ctx, model_name, tracking_uri)
    versions = registry.versions(limit=limit)
    if as_json:
        _print_json([asdict(v) | {"created": v.created.isoformat()} for v in versions])
        return
    if not versions:
        _stderr().print(f"No versions of {settings.model_name!r} yet: run `mlplatform train`.")
        return
    metric = settings.promotion.metric
    table = _table(
        f"{settings.model_name} ({settings.resolved_tracking_uri})",
        *("version", "aliases", metric, "accuracy", "gate", "created (UTC)", "run"),
    )
    for v in versions:
        table.add_row(
            v.version,
            ", ".join(v.aliases),
            _fmt(v.metrics.get(metric)),
            _fmt(v.metrics.get("accuracy")),
            v.tags.get("promotion.decision", ""),
            f"{v.created:%Y-%m-%d %H:%M:%S}",
            (v.run_id or "")[:12],
        )
    _stdout().print(table)


def _print_json(value: Any) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


ReasonOption = Annotated[str | None, typer.Option("--reason", "-r", help="Why; recorded in the alias history.")]


@model_app.command("promote", epilog="Example: mlplatform model promote 3 --reason 'approved by review'")
def model_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Model version to make the champion.")],
    reason: ReasonOption = None,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Point the champion alias ('production') at VERSION, bypassing the gate."""
    registry, settings = _registry(ctx, model_name, tracking_uri)
    registry.require_version(version)
    p = settings.promotion
    with registry.promotion_lock():
        event = registry.promote(version, "manual", reason or "manual promotion", p.champion_alias, p.challenger_alias)
    _print_event(event, settings)


@model_app.command("rollback")
def model_rollback(
    ctx: typer.Context,
    reason: ReasonOption = None,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Move the champion alias back to the previous champion."""
    registry, settings = _registry(ctx, model_name, tracking_uri)
    p = settings.promotion
    with registry.promotion_lock():
        event = registry.rollback(p.champion_alias, p.challenger_alias, reason or "rollback")
    _print_event(event, settings)


def _print_event(event: Any, settings: Settings) -> None:
    previous = f" (was v{event.previous_version})" if event.previous_version else ""
    _stdout().print(
        f"{settings.model_name}@{event.alias} -> v{event.version}{previous} "
        f"by {event.actor} at {event.at}: {event.reason}",
        markup=False,
    )


@model_app.command("history")
def model_history(
    ctx: typer.Context,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every alias move: which version held 'production' when, who moved it and why."""
    registry, settings = _registry(ctx, model_name, tracking_uri)
    events = registry.history()
    if as_json:
        _print_json([asdict(e) for e in events])
        return
    if not events:
        _stderr().print(f"No alias moves recorded for {settings.model_name!r} yet.")
        return
    table = _table(
        f"{settings.model_name} alias history",
        "#",
        "at (UTC)",
        "alias",
        "version",
        "previous",
        "action",
        "by",
        "reason",
    )
    for e in events:
        table.add_row(str(e.seq), e.at, e.alias, e.version, e.previous_version or "", e.action, e.actor, e.reason)
    _stdout().print(table)


# -- config -------------------------------------------------------------------------------


@config_app.command("show", epilog="Example: mlplatform --env prod config show")
def config_show(ctx: typer.Context) -> None:
    """Print the settings after defaults < config/<env>.toml < env vars < flags, as JSON."""
    settings = _settings(ctx)
    _print_json(settings.model_dump(mode="json") | {"resolved_tracking_uri": settings.resolved_tracking_uri})


@config_app.command("reference")
def config_reference() -> None:
    """Every setting with its environment variable and default, as a Markdown table."""
    from mlplatform.settings import settings_reference_markdown

    sys.stdout.write(settings_reference_markdown() + "\n")


# -- ui -------------------------------------------------------------------------------------


@app.command()
def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    tracking_uri: TrackingOption = None,
) -> None:
    """Open the MLflow UI on the configured store (a remote server: prints its URL)."""
    settings = _settings(ctx, tracking_uri=tracking_uri)
    uri = settings.resolved_tracking_uri
    if not settings.uses_embedded_store:
        _stdout().print(f"MLflow UI: {uri}")
        return
    if not (settings.state_dir / "mlflow.db").exists():
        from mlplatform.errors import BadInputError

        raise BadInputError(f"no MLflow store at {settings.state_dir}", "run `mlplatform train` first")
    _stderr().print(f"MLflow UI on http://127.0.0.1:{port} (store {uri}); Ctrl+C to stop")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    os.execv(sys.executable, command)


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="mlplatform")
    except KeyboardInterrupt:
        sys.exit(130)
