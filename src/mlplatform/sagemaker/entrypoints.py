"""Container entrypoints for SageMaker training and processing jobs.

`mlplatform-sagemaker-train [--date D]`: hyperparameters.json (every value a string) + the
`training` channel (built-in Iris when absent; its `date=D/` partition when it has one) and
optional `validation` channel -> `mlplatform train`; the registered MLflow model is copied to
/opt/ml/model. MLflow is whatever MLFLOW_TRACKING_URI says (a SageMaker MLflow ARN works with
the aws extra installed in the image); unset, an embedded store under /opt/ml/output/data,
which SageMaker uploads with the job's output. Set but empty, the job fails: that is a pipeline
parameter that was never wired.

`mlplatform-sagemaker-score`: the processing input folder (this host's shard when the input is
ShardedByS3Key) or generated rows -> `mlplatform score`. Predictions go to
MLPLATFORM_INFERENCE__DATA_ROOT (s3://bucket in the pipeline definition: atomic per-date
commit) or, unset, under /opt/ml/processing/output for SageMaker to upload. With several hosts
each writes its own complete sub-partition `date=D/host=<host>/`, with row ids offset by
10^12 x host index so prediction ids never collide.

`mlplatform-sagemaker-retrain-check --training-pipeline P [--training-param NAME VALUE]...`:
the step after scoring. It asks the retrain policy with the score step's settings
(`flows.retrain.explain`) and, when it says `retrain`, starts the training pipeline P with
StartPipelineExecution (LogicalDate + the values passed on; a request token per model and date,
so a retried step starts one execution). The decision goes to the processing output
(`retrain-<date>.json`: action, reasons, execution ARN) and the exit message; exit 0 whether or
not it fired.

All check first that the folder SageMaker uploads is writable by the image's user (SageMaker
mounts /opt/ml/* owned by root), write the reason of a failure where SageMaker shows it
(failure / message file) and exit non-zero: 2 for bad input, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplatform.clients import aws_error, aws_error_types
from mlplatform.dates import parse_logical_date
from mlplatform.errors import EXIT_PIPELINE_FAILURE, BadInputError, ConfigError, MLPlatformError, PipelineError
from mlplatform.layout import partition
from mlplatform.sagemaker.contract import Contract, has_data_files
from mlplatform.sagemaker.definitions import request_token

if TYPE_CHECKING:
    from mlplatform.monitoring.policy import Decision

HOST_ROW_ID_STRIDE = 10**12
# Keys SageMaker or its SDKs add to hyperparameters.json that are not ours.
_FOREIGN_PREFIXES = ("sagemaker_", "_")
# Training settings accepted as hyperparameters: ours, and seed 001's training_hyperparameters.
_TRAINING_KEYS = {
    "target": "target_column",
    "target_column": "target_column",
    "test_size": "test_size",
    "model_name": "model_name",
    "experiment_name": "experiment_name",
}
# Hyperparameter values scikit-learn removed, read with their modern meaning (classifiers).
_LEGACY_VALUES = {("max_features", "auto"): "sqrt"}
log = logging.getLogger("mlplatform.sagemaker")


def _fail(path: Path, exc: BaseException, limit: int | None = None) -> int:
    if isinstance(exc, MLPlatformError):
        message, code = f"{exc.headline}\n{exc.fix}".strip(), exc.exit_code
    else:
        message, code = f"unexpected error: {type(exc).__name__}: {exc}", EXIT_PIPELINE_FAILURE
        traceback.print_exc()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(message[:limit] if limit else message)
    sys.stderr.write(f"Error: {message}\n")
    return code


def _configure() -> None:
    import logging

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def split_hyperparameters(raw: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(model hyperparameters, training settings) from SageMaker's all-strings hyperparameters."""
    params: dict[str, str] = {}
    settings: dict[str, str] = {}
    for key, value in raw.items():
        if key.startswith(_FOREIGN_PREFIXES):
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        text = text.strip('"') if text.startswith('"') and text.endswith('"') else text
        if key in _TRAINING_KEYS:
            settings[_TRAINING_KEYS[key]] = text
        elif (key, text) in _LEGACY_VALUES:
            params[key] = _LEGACY_VALUES[key, text]
            log.warning(
                "hyperparameter %s=%r was removed from scikit-learn; read as %r (what it meant for classifiers)",
                key,
                text,
                params[key],
            )
        else:
            params[key] = text
    return params, settings


def _require_writable(folder: Path, what: str) -> None:
    """SageMaker mounts /opt/ml/* owned by root; a non-root image user finds out here, not after
    an hour of training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{folder} ({what}) is not writable by uid {os.getuid()}: {exc.strerror or exc}",
            "SageMaker mounts /opt/ml owned by root: rebuild the image with --build-arg APP_UID=0 "
            "(scripts/build_push_ecr.sh: APP_UID=0), or run the job as the folder's owner",
        ) from None


def _require_tracking_uri() -> None:
    """Set but empty = a pipeline parameter that never got its value: refuse rather than log to
    a store that vanishes with the container."""
    if "MLFLOW_TRACKING_URI" in os.environ and not os.environ["MLFLOW_TRACKING_URI"].strip():
        raise ConfigError(
            "MLFLOW_TRACKING_URI is set but empty (the pipeline parameter MlflowTrackingUri has no value)",
            "set the tracking server ARN in the schedule target (Terraform) or --param MlflowTrackingUri=...",
        )


def train_main(argv: Sequence[str] | None = None) -> int:
    """Entrypoint of the training image."""
    _configure()
    contract = Contract.from_env()
    parser = argparse.ArgumentParser(prog="mlplatform-sagemaker-train")
    # SageMaker runs `<image> train` when the job sets no ContainerEntrypoint (seed 003's job).
    parser.add_argument("mode", nargs="?", choices=["train"], help=argparse.SUPPRESS)
    parser.add_argument("--date", default="auto", help="logical date YYYY-MM-DD, or auto (today, UTC)")
    args = parser.parse_args(list(argv or []))
    try:
        run_date = parse_logical_date(args.date)
        _require_tracking_uri()
        _require_writable(contract.model_dir, "the model SageMaker uploads")
        from mlplatform.flows.setup import load_settings, open_mlflow
        from mlplatform.flows.training import run_training

        raw: dict[str, Any] = {}
        if contract.hyperparameters.is_file():
            try:
                raw = json.loads(contract.hyperparameters.read_text())
            except json.JSONDecodeError as exc:
                raise BadInputError(
                    f"hyperparameters.json is not valid JSON: {exc}", "fix the job's HyperParameters"
                ) from None
        params, extra = split_hyperparameters(raw)
        overrides: dict[str, Any] = dict(extra)
        if has_data_files(contract.channel("training")):
            overrides["train_data"] = training_data(contract.channel("training"), run_date)
        if has_data_files(contract.channel("validation")):
            overrides["validation_data"] = str(contract.channel("validation"))
        if not os.environ.get("MLFLOW_TRACKING_URI") and not os.environ.get("MLPLATFORM_HOME"):
            overrides["home"] = contract.output_data / "mlplatform"
        # A channel folder is not a dataset name: the model keeps its configured name (MODEL_NAME).
        overrides.setdefault("model_name", load_settings().model_name)
        settings = load_settings(**overrides, hyperparameters=params or None)
        outcome = run_training(settings)
        open_mlflow(settings).loader.export(outcome.model_name, outcome.version, contract.model_dir)
        _write_summary(settings, outcome, contract.model_dir, run_date)
        sys.stdout.write(
            f"trained {outcome.model_name} v{outcome.version} ({outcome.decision.reason}); "
            f"f1_macro={outcome.metrics['f1_macro']:.4f}\n"
        )
        return 0
    except BaseException as exc:  # noqa: BLE001 - the contract: every failure leaves its reason
        return _fail(contract.failure_file, exc)


def training_data(channel: Path, run_date: str) -> str:
    """The channel, or its `date=<logical date>/` partition when the data is kept in dated
    snapshots: the weekly run trains on the snapshot of its date."""
    dated = Path(partition(str(channel), run_date))
    return str(dated if has_data_files(dated) else channel)


def _write_summary(settings: Any, outcome: Any, model_dir: Path, run_date: str) -> None:
    """What the exported model is, next to it in SageMaker's model folder."""
    summary = {
        "logical_date": run_date,
        "data_source": outcome.data_source,
        "model_name": outcome.model_name,
        "version": outcome.version,
        "run_id": outcome.run_id,
        "metrics": outcome.metrics,
        "promotion": {"promote": outcome.decision.promote, "reason": outcome.decision.reason},
        "tracking_uri": outcome.tracking_uri if not settings.uses_embedded_store else "embedded",
    }
    (model_dir / "mlplatform.json").write_text(json.dumps(summary, indent=2))


def score_main(argv: Sequence[str] | None = None) -> int:
    """Entrypoint of the inference (processing) image."""
    _configure()
    contract = Contract.from_env()
    parser = argparse.ArgumentParser(prog="mlplatform-sagemaker-score")
    parser.add_argument("--date", default="auto", help="logical date YYYY-MM-DD, or auto (today, UTC)")
    parser.add_argument("--input-dir", type=Path, default=None)
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    input_dir = args.input_dir or contract.processing_input
    output_dir = args.output_dir or contract.processing_output
    try:
        run_date = parse_logical_date(args.date)
        _require_tracking_uri()
        _require_writable(output_dir, "the processing output SageMaker uploads")
        from mlplatform.flows.scoring import run_scoring
        from mlplatform.flows.setup import load_settings

        current, hosts = contract.hosts()
        if current not in hosts:
            raise BadInputError(f"resourceconfig.json: current host {current!r} not in {hosts}", "check the job")
        inference: dict[str, Any] = {}
        if has_data_files(input_dir):
            inference["input"] = str(input_dir)
        if len(hosts) > 1:
            inference["shard"] = f"host={current}"
            inference["row_id_offset"] = hosts.index(current) * HOST_ROW_ID_STRIDE
        if not os.environ.get("MLPLATFORM_INFERENCE__DATA_ROOT"):
            inference["data_root"] = str(output_dir)
        settings = load_settings(inference=inference)
        outcome = run_scoring(settings, run_date)
        output_dir.mkdir(parents=True, exist_ok=True)
        report = {
            "host": current,
            "hosts": hosts,
            "run_date": run_date,
            "rows": outcome.rows,
            "bad_rows": outcome.bad_rows,
            "output_uri": outcome.output_uri,
            "model": outcome.model,
            "inference_run_id": outcome.run_id,
            "kafka": outcome.section("kafka"),
        }
        (output_dir / f"run-{run_date}-{current}.json").write_text(json.dumps(report, indent=2))
        sys.stdout.write(f"scored {outcome.rows} rows for {run_date} on {current} -> {outcome.output_uri}\n")
        return 0
    except BaseException as exc:  # noqa: BLE001 - the contract: every failure leaves its reason
        return _fail(contract.processing_message, exc, limit=1024)


def training_request(
    decision: Decision, pipeline: str, params: dict[str, str], model: str, run_date: str
) -> dict[str, Any]:
    """The StartPipelineExecution request for a retrain: the training pipeline's LogicalDate and
    the values passed on; the same model and date give the same token (one execution)."""
    values = {"LogicalDate": run_date} | {k: v for k, v in params.items() if k != "LogicalDate"}
    return {
        "PipelineName": pipeline,
        "PipelineExecutionDisplayName": f"retrain-{run_date}",
        # Empty values cannot be sent (the API's minimum length): the default applies instead.
        "PipelineParameters": [{"Name": k, "Value": v} for k, v in values.items() if v != ""],
        "PipelineExecutionDescription": f"retrain {model} on evidence: {decision.summary()}"[:3072],
        "ClientRequestToken": request_token(pipeline, "retrain", model, run_date),
    }


def start_training(sagemaker: Any, request: dict[str, Any]) -> str:
    """Start the training pipeline; its execution ARN. botocore failures become one line."""
    pipeline = request["PipelineName"]
    try:
        return str(sagemaker.start_pipeline_execution(**request)["PipelineExecutionArn"])
    except aws_error_types() as exc:
        failure = aws_error(exc)
        assert failure is not None
        if not failure.answered:
            raise PipelineError(f"cannot reach SageMaker to start {pipeline} ({failure.code})", "retry") from None
        if failure.code.startswith("AccessDenied"):
            raise PipelineError(
                f"not allowed to start the training pipeline {pipeline} ({failure.code})",
                "grant sagemaker:StartPipelineExecution on it to this pipeline's role "
                "(Terraform module sagemaker-pipelines: retrain_on_evidence = true)",
            ) from None
        raise PipelineError(
            f"StartPipelineExecution on {pipeline} failed: {failure.code}: {failure.message}",
            "check the step's --training-pipeline (TrainingPipelineName) and the values it passes on",
        ) from None


def retrain_check_main(argv: Sequence[str] | None = None, sagemaker: Any = None) -> int:
    """Entrypoint of the inference pipeline's retrain step (`sagemaker` injected by tests)."""
    _configure()
    contract = Contract.from_env()
    parser = argparse.ArgumentParser(prog="mlplatform-sagemaker-retrain-check")
    parser.add_argument("--date", default="auto", help="logical date YYYY-MM-DD, or auto (today, UTC)")
    parser.add_argument("--training-pipeline", required=True, help="name or ARN of the pipeline to start")
    parser.add_argument("--training-param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    output_dir = args.output_dir or contract.processing_output
    try:
        run_date = parse_logical_date(args.date)
        _require_tracking_uri()
        _require_writable(output_dir, "the processing output SageMaker uploads")
        from mlplatform.clients import Clients
        from mlplatform.flows.events import emit
        from mlplatform.flows.retrain import explain
        from mlplatform.flows.setup import load_settings

        settings, clients = load_settings(), Clients()
        params = dict(args.training_param)
        _require_target(settings, args.training_pipeline, params)
        decision = explain(settings, clients)
        report: dict[str, Any] = {"model": settings.model_name, "run_date": run_date, **decision.as_dict()}
        report |= {"summary": decision.summary(), "training_pipeline": args.training_pipeline}
        report["pipeline_execution_arn"] = None
        if decision.action == "retrain":
            request = training_request(decision, args.training_pipeline, params, settings.model_name, run_date)
            arn = start_training(sagemaker or clients.boto3("sagemaker"), request)
            report["pipeline_execution_arn"] = arn
            details = {"reasons": [r.detail for r in decision.fired], "pipeline_execution_arn": arn}
            emit(settings, "retrain_triggered", model=settings.model_name, details=details, clients=clients)
        _write_decision(output_dir, contract, report)
        return 0
    except BaseException as exc:  # noqa: BLE001 - the contract: every failure leaves its reason
        return _fail(contract.processing_message, exc, limit=1024)


def _require_target(settings: Any, pipeline: str, params: dict[str, str]) -> None:
    """With a retrain rule set the step may start training: a missing pipeline name or an empty
    value passed on (no training image) is refused on every run, not on the day the policy fires."""
    from mlplatform.flows.retrain import retrain_policy

    if not retrain_policy(settings).can_fire:
        return
    empty = [name for name, value in [("TrainingPipelineName", pipeline), *params.items()] if not value.strip()]
    if empty:
        raise ConfigError(
            f"pipeline parameter {empty[0]} is empty: the retrain step could not start the training pipeline",
            f"pass --param {empty[0]}=... (Terraform sends it with the training pipeline's values)",
        )


def _write_decision(output_dir: Path, contract: Contract, report: dict[str, Any]) -> None:
    """The decision as JSON in the processing output, and as one line where SageMaker shows a
    job's exit message (DescribeProcessingJob) and in the log."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"retrain-{report['run_date']}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    line = f"retrain check of {report['model']} for {report['run_date']}: {report['summary']}"
    if report["pipeline_execution_arn"]:
        line += f"; started {report['pipeline_execution_arn']}"
    contract.processing_message.parent.mkdir(parents=True, exist_ok=True)
    contract.processing_message.write_text(line[:1024])
    sys.stdout.write(line + "\n")


def train() -> None:  # console script
    sys.exit(train_main(sys.argv[1:]))


def score() -> None:  # console script
    sys.exit(score_main())


def retrain_check() -> None:  # console script
    sys.exit(retrain_check_main())
