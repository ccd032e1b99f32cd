"""Options shared by several commands, typed once. Help texts avoid square brackets: rich
reads them as markup and would drop the words inside."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlplatform.dates import LogicalDate, parse_logical_date

DataOption = Annotated[
    str | None,
    typer.Option("--data", "-d", help="CSV/Parquet file or folder, local or s3://. Default: built-in Iris."),
]
TargetOption = Annotated[
    str | None, typer.Option("--target", "-t", help="Label column (default: 'species' for Iris, else 'target').")
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Hyperparameter override key=value, repeatable (e.g. -p n_estimators=200)."),
]
ModelNameOption = Annotated[str | None, typer.Option("--model-name", help="Registered model name (env MODEL_NAME).")]
ExperimentOption = Annotated[str | None, typer.Option("--experiment", help="MLflow experiment (env EXPERIMENT_NAME).")]
TrackingOption = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI or SageMaker MLflow ARN (env MLFLOW_TRACKING_URI)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ResultJsonOption = Annotated[
    Path | None, typer.Option("--result-json", hidden=True, help="Write the MLflow run id here (for the scheduler).")
]
DateOption = Annotated[
    str | None,
    typer.Option("--date", metavar="YYYY-MM-DD", help="Logical date of the run (default: today, UTC; or auto)."),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", "-r", help="Why; recorded in the alias history.")]
KindArgument = Annotated[str, typer.Argument(help="training or inference.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")]


DropColumnsOption = Annotated[str | None, typer.Option(help="Comma-separated columns that are not features.")]


def column_names(value: str | None) -> list[str] | None:
    """`a, b,c` -> ["a", "b", "c"]; None when the option was not given."""
    return [name.strip() for name in value.split(",") if name.strip()] if value is not None else None


def logical_date(value: str | None) -> LogicalDate:
    return parse_logical_date(value, "--date")


def write_result(path: Path | None, run_id: str) -> None:
    """The scheduler's child processes report their MLflow run id through this file."""
    if path is not None:
        import json

        path.write_text(json.dumps({"mlflow_run_id": run_id}))
