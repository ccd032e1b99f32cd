"""`mlplatform train` and `mlplatform run` (train, then score: what `make run` runs)."""

from __future__ import annotations

import inspect
import os
import shutil
import sys
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load
from mlplatform.cli.options import (
    DataOption,
    DateOption,
    DropColumnsOption,
    ExperimentOption,
    ModelNameOption,
    ParamOption,
    ResultJsonOption,
    TargetOption,
    TrackingOption,
    column_names,
    logical_date,
    write_result,
)
from mlplatform.redact import redact_uri

if TYPE_CHECKING:
    from mlplatform.config.settings import Settings
    from mlplatform.flows.training import TrainingOutcome


def training_settings(
    ctx: typer.Context,
    data: str | None = None,
    target: str | None = None,
    param: list[str] | None = None,
    model_name: str | None = None,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    model: str | None = None,
    task: str | None = None,
    id_column: str | None = None,
    drop_columns: str | None = None,
    categorical: str | None = None,
    drop_unlabeled: bool | None = None,
) -> Settings:
    from mlplatform.models import parse_assignments

    return load(
        ctx,
        train_data=data,
        target_column=target,
        model_name=model_name,
        experiment_name=experiment,
        tracking_uri=tracking_uri,
        model_family=model,
        task=task,
        id_column=id_column,
        drop_columns=column_names(drop_columns),
        categorical_columns=column_names(categorical),
        drop_unlabeled=drop_unlabeled or None,  # not given: the config's value stands
        hyperparameters=parse_assignments(param) if param else None,
    )


def train(
    ctx: typer.Context,
    data: DataOption = None,
    target: TargetOption = None,
    param: ParamOption = None,
    model_name: ModelNameOption = None,
    experiment: ExperimentOption = None,
    tracking_uri: TrackingOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Model family: auto (default, chosen from the data), random_forest, hist_gradient_boosting."
        ),
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="classification, regression or auto (default: guessed from the target).")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Row id column: not a feature, carried to predictions.")] = None,
    drop_columns: DropColumnsOption = None,
    categorical: Annotated[
        str | None, typer.Option(help="Comma-separated columns to treat as categories (e.g. integer codes).")
    ] = None,
    drop_unlabeled: Annotated[bool, typer.Option("--drop-unlabeled", help="Leave out rows without a label.")] = False,
    result_json: ResultJsonOption = None,
) -> None:
    """Train a model, log it to MLflow, register it and run the promotion gate."""
    settings = training_settings(
        ctx,
        data,
        target,
        param,
        model_name,
        experiment,
        tracking_uri,
        model,
        task,
        id_column,
        drop_columns,
        categorical,
        drop_unlabeled,
    )
    if result_json is not None:  # the scheduler runs it: its history records the run
        write_result(result_json, run_training(settings).run_id)
        return
    from mlplatform.flows.scheduled import manual_run

    with manual_run(settings, "training", datetime.now(UTC).date().isoformat(), "train") as run_id:
        run_id.append(run_training(settings).run_id)


def run(ctx: typer.Context, run_date: DateOption = None, **train_options: Any) -> None:
    """The main job: train, register and promote, then score a batch with the champion."""
    from mlplatform.cli.scoring import run_scoring

    train_options.pop("result_json", None)
    settings = training_settings(ctx, **train_options)
    run_training(settings)
    run_scoring(settings, logical_date(run_date))


def _with_train_options(command: Callable[..., None]) -> None:
    """Give `command` train's options, typed as train declares them, in place of **train_options:
    `run` accepts exactly what `train` accepts, plus its own."""

    def typed(function: Callable[..., None], skip: set[str]) -> list[inspect.Parameter]:
        hints = typing.get_type_hints(function, include_extras=True)
        return [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in inspect.signature(function).parameters.values()
            if p.kind is not p.VAR_KEYWORD and p.name not in skip
        ]

    parameters = [*typed(command, set()), *typed(train, {"ctx", "result_json"})]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}


_with_train_options(run)


def run_training(settings: Settings) -> TrainingOutcome:
    from mlplatform.flows.training import run_training as flow

    err = render.stderr()
    err.print(
        f"Training [bold]{settings.model_name}[/] on {settings.train_data or 'built-in Iris'} "
        f"[dim](env {settings.env}, MLflow {redact_uri(settings.resolved_tracking_uri)})[/]"
    )
    if settings.train_data and "model_name" not in settings.model_fields_set:
        err.print(f"[yellow]Model name {settings.model_name!r} derived from the data file[/] (set --model-name)")
    outcome = flow(settings, render.RichReporter(err))
    print_training_summary(outcome, settings)
    return outcome


def print_training_summary(outcome: TrainingOutcome, settings: Settings) -> None:
    decision = outcome.decision
    summary = render.table(f"Training run {outcome.run_id}", "", "", show_header=False)
    summary.add_row("Model", f"{outcome.model_name} v{outcome.version} ({outcome.family}, {outcome.task})")
    summary.add_row("Data", f"{outcome.data_source} ({outcome.rows} rows)")
    for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro", "rmse", "mae", "r2", "training_time_s"):
        if name in outcome.metrics:
            summary.add_row(name, f"{outcome.metrics[name]:.4f}")
    promotion = settings.promotion
    alias = promotion.champion_alias if decision.promote else promotion.challenger_alias
    verdict = f"[green]{alias}[/]" if decision.promote else f"[yellow]{alias}[/]"
    summary.add_row("Promotion", f"{verdict} - {decision.reason}")
    summary.add_row("Artifacts", outcome.artifact_uri)
    summary.add_row("MLflow", outcome.tracking_uri)
    summary.add_row("Took", f"{outcome.seconds:.1f}s")
    out = render.stdout()
    out.print(summary)
    out.print(f"Open the MLflow UI with: [bold]{ui_hint(settings)}[/]", highlight=False)


def ui_hint(settings: Settings) -> str:
    """How to see this run in the MLflow UI, as a command that works exactly as printed."""
    uri = redact_uri(settings.resolved_tracking_uri)
    if settings.uses_embedded_store:
        home = "" if settings.state_dir == Path(".mlplatform").resolve() else f" --home {settings.state_dir}"
        return f"{invoked_as()}{home} ui   (then open http://127.0.0.1:5000)"
    if uri.startswith("arn:aws:sagemaker:"):
        name = uri.rsplit("/", 1)[-1]
        return (
            "SageMaker Studio > MLflow, or: "
            f"aws sagemaker create-presigned-mlflow-tracking-server-url --tracking-server-name {name}"
        )
    return uri


def invoked_as(argv0: str | None = None, which: Any = shutil.which) -> str:
    """The command a user can type to run mlplatform again: `mlplatform` when that is on PATH
    and is this program, else the path it was started by (`.venv/bin/mlplatform`)."""
    argv0 = argv0 if argv0 is not None else sys.argv[0]
    if Path(argv0).name != "mlplatform":  # python -m mlplatform, a test runner, ...
        return f"{sys.executable} -m mlplatform"
    on_path = which("mlplatform")
    if on_path and os.path.realpath(on_path) == os.path.realpath(argv0):
        return "mlplatform"
    return argv0


def register(app: typer.Typer) -> None:
    app.command(
        epilog="Example: mlplatform train --data s3://bucket/iris.parquet --target species -p n_estimators=300"
    )(train)
    app.command(epilog="Example: mlplatform run   (what `make run` runs)")(run)
