"""SageMaker managed MLflow by tracking-server ARN, offline: the sagemaker-mlflow plugin signs
requests (SigV4) and SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT sends them to a local `mlflow server`
that keeps artifacts in S3 (moto) without proxying them - as the managed service does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from tests.integration.services import mlflow_server

ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlflow-staging-mlflow"


@pytest.fixture
def managed_like_server(s3_server, tmp_path, monkeypatch) -> Iterator[str]:
    from mlplatform.clients import Clients

    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server,
        "MLFLOW_S3_ENDPOINT_URL": s3_server,
    }
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    bucket = f"mlflow-artifacts-{uuid.uuid4().hex[:8]}"
    Clients().boto3("s3").create_bucket(Bucket=bucket)
    artifacts = ["--default-artifact-root", f"s3://{bucket}/mlflow", "--no-serve-artifacts"]
    with mlflow_server(tmp_path / "managed", artifacts, aws) as uri:
        yield uri


def test_train_and_score_against_an_mlflow_arn(cli, managed_like_server, monkeypatch, isolated_env):
    monkeypatch.setenv("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT", managed_like_server)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ARN)
    trained = cli("train", "-p", "n_estimators=10")
    assert trained.exit_code == 0, trained.output
    assert "create-presigned-mlflow-tracking-server-url --tracking-server-name mlflow-staging-mlflow" in trained.output
    scored = cli("score", "--rows", "200", "--date", "2026-11-22")
    assert scored.exit_code == 0, scored.output

    client = MlflowClient(managed_like_server)  # what the ARN resolved to
    version = client.get_model_version_by_alias("iris-model", "production")
    run = client.get_run(version.run_id)
    assert run.info.artifact_uri.startswith("s3://")  # artifacts went straight to S3
    assert {f.path for f in client.list_artifacts(run.info.run_id, "plots")} >= {"plots/confusion_matrix.png"}
    inference = client.get_experiment_by_name("iris-model-inference")
    assert inference is not None
    assert client.search_runs([inference.experiment_id])[0].data.metrics["rows"] == 200
