"""`mlplatform sagemaker definition | params`: render, never deploy (no network)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load
from mlplatform.cli.options import DateOption, KindArgument, OutOption

app = typer.Typer(
    help="SageMaker pipeline definitions and execution parameters.",
    no_args_is_help=True,
    epilog="Example: mlplatform sagemaker definition training",
)


def _kind(value: str) -> Any:
    from mlplatform.errors import BadInputError

    if value not in ("training", "inference"):
        raise BadInputError(f"unknown pipeline {value!r}", "use training or inference")
    return value


@app.command("definition", epilog="Example: mlplatform --env prod sagemaker definition inference -o p.json")
def sagemaker_definition(ctx: typer.Context, kind: KindArgument, out: OutOption = None) -> None:
    """Render the SageMaker pipeline definition JSON (no network); checked against botocore."""
    from mlplatform.errors import PipelineError
    from mlplatform.sagemaker.definitions import check_definition_wiring
    from mlplatform.sagemaker.definitions import render as render_definition
    from mlplatform.sagemaker.validation import validate_step_arguments

    settings = load(ctx)
    definition = render_definition(settings, _kind(kind))
    problems = validate_step_arguments(definition) + check_definition_wiring(definition)
    if problems:
        raise PipelineError(f"the rendered definition is invalid: {problems[0]}", "check the aws.* settings")
    render.emit(json.dumps(definition, indent=2), out)


PipelineParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", metavar="NAME=VALUE", help="Pipeline parameter value, repeatable."),
]


@app.command(
    "params",
    epilog="Example: mlplatform sagemaker params inference --date 2026-11-22 "
    "-p MlflowTrackingUri=arn:aws:sagemaker:... -p InferenceImageUri=....:abc123 -o p.json",
)
def sagemaker_params(
    ctx: typer.Context,
    kind: KindArgument,
    run_date: DateOption = None,
    param: PipelineParamOption = None,
    out: OutOption = None,
) -> None:
    """JSON for `aws sagemaker start-pipeline-execution --cli-input-json file://FILE`.

    Values: the definition's defaults, then what the settings know (MLFLOW_TRACKING_URI or
    aws.mlflow_tracking_uri, the image URIs, KAFKA_*), then --param. Refused when the tracking
    URI is missing or local, or an image is tagged latest."""
    from mlplatform.cli.options import logical_date
    from mlplatform.dates import AUTO
    from mlplatform.sagemaker.definitions import execution_parameters
    from mlplatform.sagemaker.expressions import parse_assignments

    logical = logical_date(run_date) if run_date else AUTO
    request = execution_parameters(load(ctx), _kind(kind), logical, parse_assignments(param))
    render.emit(json.dumps(request, indent=2), out)
