"""`mlplatform sagemaker definition | params`: render, never deploy (no network)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load, state
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


def _params_file(path: Path | None, kind: str) -> dict[str, str]:
    """Values from `terraform output -json pipeline_parameters` (by pipeline), a `{"Name": value}`
    map, or the JSON `sagemaker params` writes."""
    from mlplatform.errors import ConfigError

    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the parameters file {path}: {exc}", "give a JSON file") from None
    pipeline = "training" if kind == "training" else "processing"
    if isinstance(data, dict) and isinstance(data.get(pipeline), dict):
        data = data[pipeline]
    if isinstance(data, dict) and "PipelineParameters" in data:
        data = data["PipelineParameters"]
    if isinstance(data, list):
        data = {item["Name"]: item["Value"] for item in data if isinstance(item, dict) and "Name" in item}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds no pipeline parameters", 'write {"Name": "value", ...}')
    return {str(k): str(v) for k, v in data.items()}


DefinitionOption = Annotated[
    Path | None,
    typer.Option("--definition", "-d", help="Pipeline definition JSON to run (default: render it from the settings)."),
]
ParamsFileOption = Annotated[
    Path | None,
    typer.Option("--params-file", help="JSON of parameter values, e.g. terraform output -json pipeline_parameters."),
]
WorkdirOption = Annotated[
    Path | None,
    typer.Option("--workdir", help="Where the jobs' /opt/ml folders and logs go (default: HOME/sagemaker-local)."),
]
PassEnvOption = Annotated[
    list[str] | None,
    typer.Option("--pass-env", metavar="NAME", help="Also pass this variable of your shell to the jobs."),
]


@app.command(
    "run-local",
    epilog="Example: mlplatform --env staging sagemaker run-local inference "
    "-d infra/terraform/envs/staging/definitions/inference.json --params-file params.json",
)
def sagemaker_run_local(
    ctx: typer.Context,
    kind: KindArgument,
    definition: DefinitionOption = None,
    param: PipelineParamOption = None,
    params_file: ParamsFileOption = None,
    workdir: WorkdirOption = None,
    pass_env: PassEnvOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the execution as JSON.")] = False,
) -> None:
    """Run a pipeline definition here as SageMaker would, without Docker: parameters and
    expressions resolved, /opt/ml laid out, S3 inputs and outputs, one process per instance,
    timeouts and retry policies. The rehearsal of a deployment."""
    from mlplatform.config.loading import config_dir
    from mlplatform.errors import ConfigError, PipelineError
    from mlplatform.sagemaker.definitions import pipeline_name
    from mlplatform.sagemaker.definitions import render as render_definition
    from mlplatform.sagemaker.expressions import parse_assignments
    from mlplatform.sagemaker.local import LocalPipeline

    settings = load(ctx)
    kind = _kind(kind)
    if definition is None:
        document = render_definition(settings, kind)
    else:
        try:
            document = json.loads(definition.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the definition {definition}: {exc}", "give a pipeline JSON") from None
    given = _params_file(params_file, kind) | parse_assignments(param)
    output = _JobOutput(verbose=state(ctx).verbose)
    runner = LocalPipeline(
        document,
        pipeline_name(settings, kind),
        given,
        workdir or settings.state_dir / "sagemaker-local",
        config_dir=config_dir().resolve(),
        pass_env=tuple(pass_env or ()),
        echo=output.echo,
    )
    execution = runner.run()
    output.summary()
    _print_execution(execution, as_json)
    failed = execution.failed_step
    if failed is not None:
        raise PipelineError(
            f"pipeline execution {execution.execution_id} failed at step {failed.name}: {failed.failure_reason}",
            f"see the job's logs under {execution.workdir / failed.job_name}",
        )


# What libraries inside the jobs warn about (MLflow's request headers, Python warnings): in the
# jobs' logs.txt always, on the terminal only with --verbose.
_LIBRARY_NOISE = re.compile(
    r"^\[[^\]]+\] (\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} WARNING |.*\b\w*Warning: |\s+warnings\.warn)"
)


class _JobOutput:
    """The jobs' output lines on stderr, library warnings held back unless verbose."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.held = 0

    def echo(self, line: str) -> None:
        if not self.verbose and _LIBRARY_NOISE.match(line):
            self.held += 1
            return
        render.stderr().print(line, markup=False, highlight=False)

    def summary(self) -> None:
        if self.held:
            render.stderr().print(
                f"({self.held} library warning lines not shown: the jobs' logs.txt have them; -v shows them)"
            )


def _print_execution(execution: Any, as_json: bool) -> None:
    if as_json:
        render.print_json(execution.as_api("local"))
        return
    seconds = ((execution.end or execution.start) - execution.start).total_seconds()
    table = render.table(
        f"{execution.pipeline_name} execution {execution.execution_id}: {execution.status} ({seconds:.1f} s)",
        "StepName",
        "StepType",
        "StepStatus",
        "Attempts",
        "Duration",
        "Job",
    )
    for step in execution.steps:  # the failure reason is the error line printed after the table
        duration = ((step.end or step.start) - step.start).total_seconds()
        table.add_row(step.name, step.type, step.status, str(step.attempts), f"{duration:.1f}s", step.job_name)
    console = render.stdout()
    console.print(table)
    console.print(f"jobs' folders and logs: {execution.workdir}", markup=False, highlight=False)
