"""The AWS deployment, end to end, on this machine: the committed staging definitions — the exact
JSON Terraform deploys — run with `mlplatform sagemaker run-local` and the parameter values the
Terraform module sends (evaluated from its `local.parameters`), in sequence:

1. training registers a model in the MLflow server behind the tracking-server ARN (the
   sagemaker-mlflow plugin, its requests sent to a local `mlflow server` that keeps artifacts in
   S3 as the managed service does) and promotes it;
2. inference on 2 processing hosts scores S3 input sharded by key, writes one complete
   partition per host and publishes every prediction to the Kafka test broker; its retrain step
   asks the policy (no rule set: `wait`) and starts nothing;
3. inference again with a retrain rule the champion breaks (`max_age_days`): the retrain step
   starts the training pipeline exactly once, with the training schedule's values;
4. without the tracking URI, nothing runs: one line says which parameter is missing.

S3, SageMaker (the pipelines the retrain step starts) and Secrets Manager are moto in server mode;
no mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlplatform.clients import Clients
from tests.integration.services import mlflow_server
from tests.integration.test_scoring_sinks import consume_all
from tests.support.terraform import Evaluator

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "infra" / "terraform" / "envs" / "staging" / "definitions"
MODULE = ROOT / "infra" / "terraform" / "modules" / "sagemaker-pipelines"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlflow-staging-mlflow"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-{}:0123456789ab"
DATE = "2026-11-22"
ROLE = "arn:aws:iam::123456789012:role/iris-staging-training-execution"
ROWS_PER_PART, PARTS = 50, 4


@pytest.fixture
def aws(s3_server, monkeypatch) -> dict[str, str]:
    """Credentials and endpoints for this process, the CLI and the jobs (they stand in for the role)."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server,
        "MLFLOW_S3_ENDPOINT_URL": s3_server,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


@pytest.fixture
def managed_mlflow(aws, tmp_path) -> Iterator[str]:
    """A local `mlflow server` standing in for the managed one: artifacts straight to S3."""
    bucket = f"mlflow-staging-mlflow-artifacts-{uuid.uuid4().hex[:8]}"
    Clients().boto3("s3").create_bucket(Bucket=bucket)
    artifacts = ["--default-artifact-root", f"s3://{bucket}/mlflow", "--no-serve-artifacts"]
    with mlflow_server(tmp_path / "managed", artifacts, aws) as uri:
        yield uri


def terraform_parameters(bucket: str, kafka: str) -> dict[str, dict[str, str]]:
    """What the staging schedules send, evaluated from the module with the staging root's inputs."""
    inputs = {
        "project_name": "iris",
        "environment": "staging",
        "s3_bucket_arn": f"arn:aws:s3:::{bucket}",
        "s3_prefix": "iris",
        "mlflow_tracking_server_arn": ARN,  # module.mlflow.tracking_server_arn
        "mlflow_artifact_bucket_arn": "arn:aws:s3:::mlflow-staging-mlflow-artifacts-x",
        "training_image_uri": IMAGE.format("training"),
        "inference_image_uri": IMAGE.format("inference"),
        "kafka_bootstrap_servers": kafka,
        "kafka_topic": "predictions",
    }
    parameters = Evaluator(MODULE, inputs).local("parameters")
    return {kind: {k: v for k, v in values.items() if v != ""} for kind, values in parameters.items()}


def run_local(kind: str, params_file: Path, workdir: Path, env: dict[str, str], *extra: str):
    """`mlplatform --env staging sagemaker run-local KIND` as a user runs it, on the committed JSON."""
    command = [
        str(Path(sys.executable).with_name("mlplatform")), "--env", "staging", "sagemaker", "run-local", kind,
        "--definition", str(DEFINITIONS / f"{kind}.json"), "--params-file", str(params_file),
        "--workdir", str(workdir), "--json", *extra,
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)


def upload_inputs(bucket: str, iris: pd.DataFrame) -> None:
    s3 = Clients().boto3("s3")
    training = iris.rename(columns={"species": "target"}).to_csv(index=False).encode()
    s3.put_object(Bucket=bucket, Key="iris/datasets/training/iris.csv", Body=training)
    features = iris.drop(columns="species").sample(n=ROWS_PER_PART * PARTS, replace=True, random_state=3)
    for part in range(PARTS):
        path = Path(os.environ["MLPLATFORM_HOME"]).parent / f"part-{part}.parquet"
        features.iloc[part * ROWS_PER_PART : (part + 1) * ROWS_PER_PART].to_parquet(path, index=False)
        s3.upload_file(str(path), bucket, f"iris/inference-input/date={DATE}/part-{part}.parquet")


@pytest.fixture
def training_pipeline(aws) -> Iterator[str]:
    """The training pipeline Terraform deploys, in moto's SageMaker: what the retrain step starts
    (removed after the test: the moto server is shared by the session)."""
    sagemaker = Clients().boto3("sagemaker")
    sagemaker.create_pipeline(PipelineName="iris-staging-training", RoleArn=ROLE,
                              PipelineDefinition=(DEFINITIONS / "training.json").read_text())  # fmt: skip
    yield "iris-staging-training"
    sagemaker.delete_pipeline(PipelineName="iris-staging-training", ClientRequestToken=uuid.uuid4().hex)


def test_the_deployed_definitions_train_promote_score_and_publish(
    aws, managed_mlflow, s3_bucket, kafka_broker, training_pipeline, iris, tmp_path, monkeypatch
):
    started = time.monotonic()
    upload_inputs(s3_bucket, iris)
    params = tmp_path / "pipeline_parameters.json"  # as `terraform output -json pipeline_parameters` writes it
    params.write_text(json.dumps(terraform_parameters(s3_bucket, kafka_broker.bootstrap)))
    env = os.environ | aws | {"SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT": managed_mlflow}
    assert "MLFLOW_TRACKING_URI" not in env  # the jobs can only get it from the pipeline parameter

    trained = run_local("training", params, tmp_path / "work", env, "-p", f"LogicalDate={DATE}")
    assert trained.returncode == 0, trained.stderr[-3000:]
    train_step = json.loads(trained.stdout)["PipelineExecutionSteps"][0]
    assert train_step["StepStatus"] == "Succeeded"
    training_seconds = time.monotonic() - started

    from mlflow import MlflowClient

    client = MlflowClient(managed_mlflow)  # what the ARN resolved to
    version = client.get_model_version_by_alias("iris-model", "production")
    run = client.get_run(version.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "iris-training-staging"
    assert run.info.artifact_uri.startswith("s3://mlflow-staging-mlflow-artifacts-")
    assert run.data.params["n_estimators"] == "100"
    models = [k for k in keys(s3_bucket, "iris/models/") if k.endswith("/output/model.tar.gz")]
    assert len(models) == 1
    sagemaker = Clients().boto3("sagemaker")

    scored = run_local("inference", params, tmp_path / "work", env, "-p", f"LogicalDate={DATE}",
                       "-p", "InferenceInstanceCount=2")  # fmt: skip
    assert scored.returncode == 0, scored.stderr[-3000:]
    execution = json.loads(scored.stdout)
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    assert "KAFKA_SASL_PASSWORD" not in scored.stderr

    ids: set[str] = set()
    for host in ("algo-1", "algo-2"):
        partition = f"iris/inference-output/model=iris-model/date={DATE}/host={host}/"
        manifest = json.loads(get(s3_bucket, partition + "_SUCCESS"))
        assert manifest["rows"] == 2 * ROWS_PER_PART  # two of the four input files on each host
        assert manifest["model"]["version"] == version.version
        published = json.loads(get(s3_bucket, partition + "_PUBLISHED"))
        assert published["inference_run_id"] == manifest["inference_run_id"]
        for part in manifest["parts"]:  # readers follow the manifest
            key = partition + part["path"]
            path = tmp_path / key.replace("/", "_")
            Clients().boto3("s3").download_file(s3_bucket, key, str(path))
            ids |= set(pq.read_table(path, columns=["prediction_id"]).column(0).to_pylist())
    assert len(ids) == ROWS_PER_PART * PARTS
    execution_id = execution["PipelineExecutionArn"].rsplit("/", 1)[1]
    reports = keys(s3_bucket, f"iris/processing-runs/{execution_id}/")
    names = [f"retrain-{DATE}.json", f"run-{DATE}-algo-1.json", f"run-{DATE}-algo-2.json"]
    assert [r.rsplit("/", 1)[1] for r in reports] == names
    assert [s["StepName"] for s in execution["PipelineExecutionSteps"]] == ["RetrainCheck", "Score"]  # newest first
    decision = json.loads(get(s3_bucket, reports[0]))
    assert (decision["action"], decision["pipeline_execution_arn"]) == ("wait", None)  # no rule set
    assert training_executions(sagemaker, training_pipeline) == []

    messages = consume_all(kafka_broker.bootstrap, "predictions", expected=len(ids))
    assert {m.key().decode() for m in messages} == ids  # every prediction published, no other key
    assert len(messages) == len(ids)
    scored_seconds = time.monotonic() - started

    # The champion is older than the rule allows: the retrain step starts the training pipeline.
    aged = env | {"MLPLATFORM_TRAINING__RETRAIN__MAX_AGE_DAYS": "0.00001"}  # 0.9 s
    checked = run_local("inference", params, tmp_path / "work", aged, "-p", f"LogicalDate={DATE}",
                        "--pass-env", "MLPLATFORM_TRAINING__RETRAIN__MAX_AGE_DAYS")  # fmt: skip
    assert checked.returncode == 0, checked.stderr[-3000:]
    [started_training] = training_executions(sagemaker, training_pipeline)
    arn = started_training["PipelineExecutionArn"]
    assert started_training["PipelineExecutionDisplayName"] == f"retrain-{DATE}"
    given = sagemaker.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    training_schedule = terraform_parameters(s3_bucket, kafka_broker.bootstrap)["training"]
    assert {p["Name"]: p["Value"] for p in given} == training_schedule | {"LogicalDate": DATE}
    execution_id = json.loads(checked.stdout)["PipelineExecutionArn"].rsplit("/", 1)[1]
    decision = json.loads(get(s3_bucket, f"iris/processing-runs/{execution_id}/retrain-{DATE}.json"))
    assert decision["action"] == "retrain" and decision["pipeline_execution_arn"] == arn
    assert [r["rule"] for r in decision["reasons"] if r["fired"]] == ["max_age_days"]
    assert f"[RetrainCheck/algo-1] retrain check of iris-model for {DATE}: retrain: champion v" in checked.stderr
    total = time.monotonic() - started
    first, second = scored_seconds - training_seconds, total - scored_seconds
    sys.stderr.write(f"\ne2e timings: training {training_seconds:.1f}s, inference {first:.1f}s, "
                     f"inference with a retrain {second:.1f}s, total {total:.1f}s\n")  # fmt: skip


def test_without_the_tracking_uri_nothing_runs(aws, s3_bucket, tmp_path):
    parameters = terraform_parameters(s3_bucket, "")
    for kind, pipeline in (("training", "training"), ("inference", "processing")):
        del parameters[pipeline]["MlflowTrackingUri"]
        params = tmp_path / f"{kind}.json"
        params.write_text(json.dumps(parameters[pipeline]))
        started = time.monotonic()
        result = run_local(kind, params, tmp_path / "work", os.environ | aws)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert lines[0] == "Error: pipeline parameter MlflowTrackingUri has no value and no default"
        assert "MlflowTrackingUri=" in lines[1]  # the fix names the parameter to pass
        assert not (tmp_path / "work").exists()  # before anything ran
        assert time.monotonic() - started < 20


def training_executions(sagemaker, name: str) -> list[dict]:
    return sagemaker.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]


def keys(bucket: str, prefix: str) -> list[str]:
    pages = Clients().boto3("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def get(bucket: str, key: str) -> bytes:
    return Clients().boto3("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
