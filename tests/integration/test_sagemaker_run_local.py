"""`sagemaker run-local` mechanics against S3 (moto server), with a stand-in entrypoint that
reports what each job sees: /opt/ml layout, channels, shards, environment, uploads, failure
files, timeouts and retry policies. The real entrypoints run in test_aws_e2e.py."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from mlplatform.clients import Clients
from mlplatform.errors import ConfigError
from mlplatform.flows.setup import load_settings
from mlplatform.sagemaker.definitions import render
from mlplatform.sagemaker.local import LocalPipeline

FAKE_JOB = str(Path(__file__).resolve().parents[1] / "support" / "fake_job.py")
ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlflow-staging-mlflow"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-{}:0123456789ab"


def definition(kind: str, mode: str, **changes) -> dict:
    """The staging definition's first step, its container replaced by the stand-in job (the
    inference pipeline's retrain step runs for real in test_sagemaker_retrain_step.py)."""
    document = render(load_settings("staging"), kind)
    document["Steps"] = document["Steps"][:1]
    arguments = document["Steps"][0]["Arguments"]
    spec = arguments["AlgorithmSpecification" if kind == "training" else "AppSpecification"]
    spec["ContainerEntrypoint"] = ["python", FAKE_JOB]
    spec["ContainerArguments"] = [mode]
    arguments["StoppingCondition"]["MaxRuntimeInSeconds"] = changes.pop("max_runtime", 600)
    arguments["Environment"]["FROM_THE_STEP"] = {"Get": "Parameters.LogicalDate"}
    return document


def put(bucket: str, key: str, body: bytes = b"x") -> None:
    Clients().boto3("s3").put_object(Bucket=bucket, Key=key, Body=body)


def get(bucket: str, key: str) -> bytes:
    return Clients().boto3("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(bucket: str, prefix: str) -> list[str]:
    listed = Clients().boto3("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def training_values(bucket: str) -> dict[str, str]:
    return {"MlflowTrackingUri": ARN, "TrainingImageUri": IMAGE.format("training"),
            "TrainingDataS3Uri": f"s3://{bucket}/iris/datasets/training", "LogicalDate": "2026-11-22",
            "ModelOutputS3Uri": f"s3://{bucket}/iris/models"}  # fmt: skip


def processing_values(bucket: str, hosts: int = 2) -> dict[str, str]:
    return {"MlflowTrackingUri": ARN, "InferenceImageUri": IMAGE.format("inference"),
            "InputS3Uri": f"s3://{bucket}/iris/inference-input", "ReportsS3Uri": f"s3://{bucket}/iris/runs",
            "InferenceInstanceCount": str(hosts), "LogicalDate": "2026-11-22"}  # fmt: skip


def run(document: dict, values: dict, tmp_path: Path, **options):
    return LocalPipeline(document, "iris-staging-test", values, tmp_path / "work", **options).run()


def test_a_training_job_sees_the_sagemaker_layout_and_its_model_is_uploaded(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///leaks.db")  # this shell's values never reach the job
    monkeypatch.setenv("MLPLATFORM_INFERENCE__ROWS", "7")
    put(s3_bucket, "iris/datasets/training/part-0.csv", b"a,b\n1,2\n")
    put(s3_bucket, "iris/datasets/training/date=2026-11-22/part-1.csv", b"a,b\n3,4\n")
    execution = run(definition("training", "train"), training_values(s3_bucket), tmp_path)
    assert execution.status == "Succeeded", execution.steps[0].failure_reason
    step = execution.steps[0]
    model = step.properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert model == f"s3://{s3_bucket}/iris/models/{step.job_name}/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(get(s3_bucket, model.split("/", 3)[3]))) as tar:
        seen = json.load(tar.extractfile("seen.json"))
        hyperparameters = json.load(tar.extractfile("hyperparameters.json"))
    assert {"input/config/hyperparameters.json", "input/config/resourceconfig.json",
            "input/config/inputdataconfig.json", "input/data/training/part-0.csv",
            "input/data/training/date=2026-11-22/part-1.csv"} <= set(seen["files"])  # fmt: skip
    assert all(isinstance(v, str) for v in hyperparameters.values()) and hyperparameters["n_estimators"] == "100"
    env = seen["environment"]
    assert env["MLFLOW_TRACKING_URI"] == ARN and env["FROM_THE_STEP"] == "2026-11-22"
    assert env["TRAINING_JOB_NAME"] == step.job_name and env["MLPLATFORM_ENV"] == "staging"
    assert "MLPLATFORM_INFERENCE__ROWS" not in env and "MLPLATFORM_HOME" not in env
    assert env["AWS_ENDPOINT_URL"]  # credentials and endpoints stand in for the execution role
    assert seen["argv"] == ["train"]
    assert (
        step.attempts == 1 and execution.as_api("us-east-1")["PipelineExecutionSteps"][0]["StepStatus"] == "Succeeded"
    )


def test_processing_shards_inputs_by_key_across_host_processes(s3_bucket, tmp_path):
    for index in range(5):
        put(s3_bucket, f"iris/inference-input/date=2026-11-22/part-{index}.parquet")
    execution = run(definition("inference", "process"), processing_values(s3_bucket, hosts=2), tmp_path)
    assert execution.status == "Succeeded", execution.steps[0].failure_reason
    reports = keys(s3_bucket, f"iris/runs/{execution.execution_id}/")
    assert [r.rsplit("/", 1)[1] for r in reports] == ["seen-algo-1.json", "seen-algo-2.json"]
    inputs = {}
    for report in reports:
        seen = json.loads(get(s3_bucket, report))
        assert seen["hosts"] == ["algo-1", "algo-2"]
        assert "config/processingjobconfig.json" in seen["files"]
        assert seen["argv"] == ["process"]
        inputs[seen["host"]] = {f for f in seen["files"] if f.startswith("processing/input/data/")}
    assert len(inputs["algo-1"]) == 3 and len(inputs["algo-2"]) == 2
    assert not inputs["algo-1"] & inputs["algo-2"]  # each object on one host only


def test_a_failed_job_reports_its_failure_file_and_is_not_retried(s3_bucket, tmp_path):
    put(s3_bucket, "iris/datasets/training/part-0.csv")
    sleeps: list[float] = []
    execution = run(definition("training", "fail"), training_values(s3_bucket), tmp_path, sleep=sleeps.append)
    step = execution.steps[0]
    assert execution.status == "Failed" and step.status == "Failed"
    assert step.failure_reason == "AlgorithmError: the data has no column 'label'\nFix: pass target=..."
    assert step.attempts == 1 and sleeps == []
    assert (execution.workdir / step.job_name / "algo-1" / "logs.txt").is_file()


def test_the_step_timeout_stops_every_host(s3_bucket, tmp_path):
    put(s3_bucket, "iris/inference-input/a.csv")
    put(s3_bucket, "iris/inference-input/b.csv")
    started = time.monotonic()
    execution = run(definition("inference", "sleep", max_runtime=2), processing_values(s3_bucket), tmp_path)
    assert time.monotonic() - started < 30
    step = execution.steps[0]
    assert step.status == "Failed" and step.job_status == "Stopped"
    assert step.failure_reason.startswith("MaxRuntimeExceeded: the job ran past MaxRuntimeInSeconds=2")
    for host in ("algo-1", "algo-2"):
        pid = int((execution.workdir / step.job_name / host / "pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_service_faults_are_retried_as_the_retry_policy_says(s3_bucket, tmp_path):
    """S3 unreachable is SageMaker's own trouble (Step.SERVICE_FAULT): retried 3 times at 30, 60,
    120 s (the definition's policy), then the step fails."""
    import boto3
    from botocore.config import Config

    clients = Clients()
    clients._boto3["s3"] = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                                        config=Config(retries={"max_attempts": 1}, connect_timeout=1))  # fmt: skip
    sleeps: list[float] = []
    execution = run(definition("training", "train"), training_values(s3_bucket), tmp_path, clients=clients,
                    sleep=sleeps.append)  # fmt: skip
    step = execution.steps[0]
    assert step.status == "Failed" and step.attempts == 4
    assert sleeps == [30.0, 60.0, 120.0]
    assert step.failure_reason.startswith("InternalServerError: listing s3://")


def test_an_empty_channel_fails_as_sagemaker_fails_it(s3_bucket, tmp_path):
    execution = run(definition("training", "train"), training_values(s3_bucket), tmp_path)
    reason = execution.steps[0].failure_reason
    assert reason == f"ClientError: No S3 objects found under S3 URL s3://{s3_bucket}/iris/datasets/training"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"MlflowTrackingUri": None}, "pipeline parameter MlflowTrackingUri has no value and no default"),
        ({"MlflowTrackingUri": ""}, "the MLflow tracking URI is empty (pipeline parameter MlflowTrackingUri)"),
        ({"TrainingImageUri": IMAGE.format("training").replace("0123456789ab", "latest")}, "uses the tag 'latest'"),
        ({"Nope": "1"}, "pipeline parameter 'Nope' is not declared"),
    ],
)
def test_an_unwired_execution_is_refused_before_anything_runs(tmp_path, values, message):
    given = {k: v for k, v in (training_values("b") | values).items() if v is not None}
    with pytest.raises(ConfigError) as error:
        run(definition("training", "train"), given, tmp_path)
    assert (message in error.value.headline and "--param" in error.value.fix) or "declared" in error.value.fix
    assert not (tmp_path / "work").exists()


def test_step_types_it_cannot_run_are_refused(tmp_path):
    document = definition("training", "train")
    document["Steps"].append({"Name": "Check", "Type": "Condition", "Arguments": {}})
    with pytest.raises(ConfigError, match="step Check is a Condition step, which run-local does not run"):
        LocalPipeline(document, "p", training_values("b"), tmp_path)


def test_steps_run_in_order_so_each_may_depend_only_on_earlier_ones(tmp_path):
    document = render(load_settings("staging"), "inference")
    assert [(s["Name"], s.get("DependsOn")) for s in document["Steps"]] == [
        ("Score", None),
        ("RetrainCheck", ["Score"]),
    ]
    LocalPipeline(document, "p", processing_values("b"), tmp_path)  # accepted as rendered
    document["Steps"].reverse()
    with pytest.raises(ConfigError, match="step RetrainCheck depends on Score, which is not listed before it"):
        LocalPipeline(document, "p", processing_values("b"), tmp_path)


def test_the_command_takes_terraforms_parameters_and_prints_the_steps(cli, s3_bucket, tmp_path):
    put(s3_bucket, "iris/datasets/training/part-0.csv")
    path = tmp_path / "training.json"
    path.write_text(json.dumps(definition("training", "train")))
    values = training_values(s3_bucket)
    terraform_output = tmp_path / "pipeline_parameters.json"  # terraform output -json pipeline_parameters
    terraform_output.write_text(json.dumps({"training": values, "processing": processing_values(s3_bucket)}))
    result = cli("--env", "staging", "sagemaker", "run-local", "training", "-d", str(path), "--params-file",
                 str(terraform_output), "--workdir", str(tmp_path / "work"), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert described["PipelineExecutionSteps"][0]["Metadata"]["TrainingJob"]["Arn"].startswith("arn:aws:sagemaker:")

    path.write_text(json.dumps(definition("training", "fail")))
    failed = cli("--env", "staging", "sagemaker", "run-local", "training", "-d", str(path), "--params-file",
                 str(terraform_output), "--workdir", str(tmp_path / "work"))  # fmt: skip
    assert failed.exit_code == 1
    assert "Train" in failed.stdout and "│ Failed" in failed.stdout
    assert "failed at step Train: AlgorithmError: the data has no column 'label'" in failed.stderr

    unwired = cli("--env", "staging", "sagemaker", "run-local", "training", "-d", str(path), "-p",
                  f"TrainingImageUri={IMAGE.format('training')}")  # fmt: skip
    assert unwired.exit_code == 2
    assert unwired.stderr.startswith("Error: pipeline parameter MlflowTrackingUri has no value and no default")
