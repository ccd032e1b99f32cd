"""`mlplatform score` and `mlplatform check`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load
from mlplatform.cli.options import (
    DateOption,
    DropColumnsOption,
    ModelNameOption,
    ResultJsonOption,
    TrackingOption,
    column_names,
    logical_date,
    write_result,
)

if TYPE_CHECKING:
    from mlplatform.config.settings import Settings
    from mlplatform.flows.scoring import ScoringOutcome


def score(
    ctx: typer.Context,
    model_uri: Annotated[
        str | None,
        typer.Option(
            "--model-uri",
            help="models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE or runs:/ID/PATH "
            "(env MLFLOW_MODEL_URI; default: the production alias of MODEL_NAME).",
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
        str | None, typer.Option(help="Output root, a folder or s3://bucket/prefix (default: <home>/data).")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Input column with the row id.")] = None,
    drop_columns: DropColumnsOption = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Commit an empty date when the input has no rows.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="If this model and date is being scored already, wait (else exit 75).")
    ] = False,
    shadow: Annotated[
        bool | None,
        typer.Option("--shadow/--no-shadow", help="Also score with the challenger into variant=challenger/."),
    ] = None,
    fail_on_drift: Annotated[
        bool | None, typer.Option("--fail-on-drift/--warn-on-drift", help="Exit 1 when a feature drifts.")
    ] = None,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
    result_json: ResultJsonOption = None,
) -> None:
    """Score a batch with the promoted model; write predictions per date and publish to Kafka."""
    inference: dict[str, Any] = {
        "model_uri": model_uri,
        "input": input_uri,
        "rows": rows,
        "seed": seed,
        "batch_size": batch_size,
        "output_format": output_format,
        "on_bad_rows": on_bad_rows,
        "data_root": data_root,
        "id_column": id_column,
        "drop_columns": column_names(drop_columns),
        "drift": {"fail_on_drift": fail_on_drift},
        "shadow": shadow,
        "wait": wait or None,
        "allow_empty": allow_empty or None,
    }
    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri, inference=inference)
    day = logical_date(run_date)
    if result_json is not None:  # the scheduler runs it: its history records the run
        write_result(result_json, run_scoring(settings, day).run_id)
        return
    from mlplatform.flows.scheduled import manual_run

    with manual_run(settings, "inference", day, "score") as run_id:
        run_id.append(run_scoring(settings, day).run_id)


def run_scoring(settings: Settings, run_date: str) -> ScoringOutcome:
    from mlplatform.flows.scoring import run_scoring as flow

    err = render.stderr()
    sinks = "files" + (f" + Kafka topic {settings.inference.kafka.topic}" if settings.inference.kafka.enabled else "")
    err.print(f"Scoring {run_date} with [bold]{settings.model_uri}[/] -> {sinks}")
    outcome = flow(settings, run_date, render.RichReporter(err))
    print_scoring_summary(outcome)
    return outcome


def print_scoring_summary(outcome: ScoringOutcome) -> None:
    summary = render.table(f"Inference run {outcome.run_id} for {outcome.logical_date}", "", "", show_header=False)
    summary.add_row("Model", outcome.model)
    summary.add_row("Input", outcome.source)
    summary.add_row("Rows", f"{outcome.rows:,} scored, {outcome.bad_rows:,} quarantined")
    summary.add_row(
        "End to end",
        f"{outcome.rows_per_second:,.0f} rows/s ({outcome.seconds:.1f}s from loading the model to the end)",
    )
    total = max(outcome.rows, 1)
    if outcome.class_counts:
        summary.add_row("Classes", ", ".join(f"{k} {v / total:.1%}" for k, v in outcome.class_counts.items()))
    if outcome.prediction_stats:
        stats = outcome.prediction_stats
        mean, low, high = stats["prediction_mean"], stats["prediction_min"], stats["prediction_max"]
        summary.add_row("Predictions", f"mean {mean:.4g}, min {low:.4g}, max {high:.4g}")
    for result in outcome.sinks.values():
        summary.add_row("Output" if result.name == "storage" else result.name.title(), result.summary)
    if outcome.drift is not None:
        drifted = ", ".join(outcome.drift.drifted) or "none"
        summary.add_row("Drift", f"max PSI {outcome.drift.max_psi:.3f}; drifted: {drifted}")
    if outcome.estimates:
        estimate = ", ".join(f"{name} {value:.3f}" for name, value in outcome.estimates.items())
        summary.add_row("Estimate", f"{estimate} (label-free, from calibrated probabilities)")
    if outcome.shadow is not None:
        summary.add_row("Shadow", _shadow_line(outcome))
    render.stdout().print(summary)


def _shadow_line(outcome: ScoringOutcome) -> str:
    shadow = outcome.shadow
    assert shadow is not None
    if shadow.outcome is not None:
        return f"{shadow.outcome.model}: {shadow.outcome.rows:,} rows -> {shadow.outcome.output_uri}"
    return (
        f"not scored: {shadow.skipped}" if shadow.skipped else f"failed (the champion's output stands): {shadow.error}"
    )


def publish(
    ctx: typer.Context,
    run_date: DateOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Publish again even if the committed run was published already.")
    ] = False,
    data_root: Annotated[str | None, typer.Option(help="Output root the date was committed to.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="If this model and date is being scored, wait (else exit 75).")
    ] = False,
    model_name: ModelNameOption = None,
) -> None:
    """Publish a committed date to Kafka again from its files, without re-scoring (after a failed publish)."""
    from mlplatform.flows.publish import run_publish

    inference: dict[str, Any] = {"data_root": data_root, "wait": wait or None}
    settings = load(ctx, model_name=model_name, inference=inference)
    day = logical_date(run_date)
    err = render.stderr()
    err.print(f"Publishing {day} of {settings.model_name} -> Kafka topic {settings.inference.kafka.topic}")
    outcome = run_publish(settings, day, render.RichReporter(err), force=force)
    out = render.stdout()
    if not outcome.results:
        out.print(f"{day}: run {outcome.inference_run_id} was published already (pass --force to send it again)")
    for result in outcome.results.values():
        out.print(f"{day}: {result.name}: {result.summary} (run {outcome.inference_run_id})")


def check(
    ctx: typer.Context,
    model_uri: Annotated[str | None, typer.Option("--model-uri", help="Model URI to resolve.")] = None,
    data_root: Annotated[str | None, typer.Option(help="Output root to test for writes.")] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Can a run start? MLflow + model, storage, Kafka, missed fires: one OK/FAIL line each; exit 1 if any fails."""
    from mlplatform.flows.checks import run_checks

    settings = load(ctx, tracking_uri=tracking_uri, inference={"model_uri": model_uri, "data_root": data_root})
    results = run_checks(settings)
    out = render.stdout()
    for result in results:
        mark = {"OK": "[green]OK[/]  ", "FAIL": "[red]FAIL[/]", "SKIP": "[dim]SKIP[/]"}[result.status]
        out.print(f"{mark} {result.name}: {result.detail}")
    if any(r.status == "FAIL" for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(
        epilog="Examples: mlplatform score --rows 1000000 · mlplatform score --input s3://bucket/in/ --date 2026-11-22"
    )(score)
    app.command(epilog="Example: KAFKA_BOOTSTRAP_SERVERS=broker:9092 mlplatform publish --date 2026-11-22")(publish)
    app.command(epilog="Example: KAFKA_BOOTSTRAP_SERVERS=broker:9092 mlplatform check")(check)
