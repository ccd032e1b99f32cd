"""The inference pipeline's retrain step: its place in the definition, and its entrypoint's decision
-> StartPipelineExecution mapping, with the policy read from the settings and a fake SageMaker
client (only the evidence gathering, which needs MLflow and S3, is replaced; test_aws_e2e.py runs
the whole step)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import mlplatform.flows.retrain as retrain_flow
from mlplatform.flows.setup import load_settings
from mlplatform.monitoring.policy import Evidence, decide
from mlplatform.sagemaker.definitions import FORWARDED_TO_TRAINING, RETRAIN_STEP, render
from mlplatform.sagemaker.entrypoints import retrain_check_main
from tests.support.fakes import FakeSageMaker

ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlflow-staging-mlflow"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-training:0123456789ab"
FORWARDED = {
    "MlflowTrackingUri": ARN,
    "TrainingImageUri": IMAGE,
    "TrainingDataS3Uri": "s3://iris-ml-staging/iris/datasets/training",
    "ModelOutputS3Uri": "s3://iris-ml-staging/iris/models",
}
NOW = datetime(2026, 11, 22, 7, tzinfo=UTC)


def test_the_retrain_step_follows_scoring_in_the_inference_image_with_the_same_settings():
    definition = render(load_settings("staging"), "inference")
    score, check = definition["Steps"]
    assert check["Name"] == RETRAIN_STEP and check["Type"] == "Processing" and check["DependsOn"] == ["Score"]
    arguments = check["Arguments"]
    assert arguments["AppSpecification"]["ImageUri"] == score["Arguments"]["AppSpecification"]["ImageUri"]
    assert arguments["AppSpecification"]["ContainerEntrypoint"] == ["mlplatform-sagemaker-retrain-check"]
    assert arguments["Environment"] == score["Arguments"]["Environment"]  # the policy sees what scoring saw
    assert arguments["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert arguments["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {
        "Get": "Parameters.RetrainInstanceType"
    }
    assert "ProcessingInputs" not in arguments
    assert arguments["ProcessingOutputConfig"] == score["Arguments"]["ProcessingOutputConfig"]  # the reports folder
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert parameters["RetrainInstanceType"]["DefaultValue"] == "ml.t3.medium"
    assert parameters["TrainingPipelineName"]["DefaultValue"] == "iris-staging-training"


def test_the_step_passes_on_every_value_the_training_pipeline_needs_under_its_own_name():
    settings = load_settings("staging")
    training = {p["Name"]: p for p in render(settings, "training")["Parameters"]}
    inference = {p["Name"]: p for p in render(settings, "inference")["Parameters"]}
    arguments = render(settings, "inference")["Steps"][1]["Arguments"]["AppSpecification"]["ContainerArguments"]
    passed = {arguments[i + 1]: arguments[i + 2] for i, a in enumerate(arguments) if a == "--training-param"}
    assert passed == {name: {"Get": f"Parameters.{name}"} for name in FORWARDED_TO_TRAINING}
    required = {name for name, p in training.items() if "DefaultValue" not in p}
    assert required <= set(passed)  # LogicalDate has a default and is the step's own date
    for name in set(passed) - {"MlflowTrackingUri", "TrainingImageUri"}:
        assert inference[name]["DefaultValue"] == training[name]["DefaultValue"], name
    assert arguments[:4] == ["--date", {"Get": "Parameters.LogicalDate"}, "--training-pipeline",
                             {"Get": "Parameters.TrainingPipelineName"}]  # fmt: skip


@pytest.fixture
def step(monkeypatch, tmp_path):
    """Run the entrypoint as the job does, on `evidence`, with a fake SageMaker; returns
    (exit code, report, exit message)."""
    monkeypatch.setenv("MLPLATFORM_SAGEMAKER_ROOT", str(tmp_path / "opt-ml"))
    monkeypatch.setenv("MLPLATFORM_ENV", "staging")

    def run(evidence: Evidence, sagemaker: FakeSageMaker, date: str = "2026-11-22", **changes: str):
        def explain(settings, clients=None, mlflow=None, now=None):
            return decide(retrain_flow.retrain_policy(settings), evidence, NOW)

        monkeypatch.setattr(retrain_flow, "explain", explain)
        params = FORWARDED | changes
        argv = ["--date", date, "--training-pipeline", "iris-staging-training"]
        argv += [item for name, value in params.items() for item in ("--training-param", name, value)]
        code = retrain_check_main(argv, sagemaker=sagemaker)
        report = tmp_path / "opt-ml" / "processing" / "output" / f"retrain-{date}.json"
        message = (tmp_path / "opt-ml" / "output" / "message").read_text()
        return code, json.loads(report.read_text()) if report.is_file() else None, message

    return run


def aged(days: float, trained_days: float | None = None) -> Evidence:
    trained = NOW - timedelta(days=trained_days if trained_days is not None else days)
    return Evidence("3", NOW - timedelta(days=days), trained)


def test_a_retrain_decision_starts_the_training_pipeline_once_per_model_and_date(step, monkeypatch, isolated_env):
    monkeypatch.setenv("MLPLATFORM_TRAINING__RETRAIN__MAX_AGE_DAYS", "7")
    sagemaker = FakeSageMaker()
    code, report, message = step(aged(10), sagemaker)
    assert code == 0
    [request] = sagemaker.requests
    assert request["PipelineName"] == "iris-staging-training"
    values = {p["Name"]: p["Value"] for p in request["PipelineParameters"]}
    assert values == {"LogicalDate": "2026-11-22", **FORWARDED}
    assert request["PipelineExecutionDisplayName"] == "retrain-2026-11-22"
    assert "champion v3 is 10.0 days old (limit 7 days)" in request["PipelineExecutionDescription"]
    arn = next(iter(sagemaker.executions.values()))
    assert report["action"] == "retrain" and report["pipeline_execution_arn"] == arn
    assert [r["rule"] for r in report["reasons"] if r["fired"]] == ["max_age_days"]
    assert message == f"retrain check of iris-model for 2026-11-22: {report['summary']}; started {arn}"
    events = (isolated_env / "events" / "events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["details"]["pipeline_execution_arn"] == arn

    assert step(aged(10), sagemaker)[1]["pipeline_execution_arn"] == arn  # a retried step: the same execution
    assert len(sagemaker.executions) == 1 and len(sagemaker.requests) == 2
    step(aged(10), sagemaker, date="2026-11-23")  # the next date is a new training
    monkeypatch.setenv("MODEL_NAME", "other-model")
    step(aged(10), sagemaker)  # so is another model on the same date
    tokens = [r["ClientRequestToken"] for r in sagemaker.requests]
    assert tokens[0] == tokens[1] and len(set(tokens)) == 3 and len(sagemaker.executions) == 3


@pytest.mark.parametrize(
    ("settings", "evidence", "action"),
    [
        ({}, aged(400), "wait"),  # no rule set: the default
        ({"MAX_AGE_DAYS": "30"}, aged(10), "wait"),
        ({"MAX_AGE_DAYS": "7", "COOLDOWN_DAYS": "3"}, aged(10, trained_days=1), "cooldown"),
        ({"MAX_AGE_DAYS": "7"}, Evidence(None, None, None), "wait"),  # no champion yet
    ],
)
def test_wait_and_cooldown_start_nothing_and_exit_0(step, monkeypatch, settings, evidence, action):
    for name, value in settings.items():
        monkeypatch.setenv(f"MLPLATFORM_TRAINING__RETRAIN__{name}", value)
    sagemaker = FakeSageMaker()
    code, report, message = step(evidence, sagemaker)
    assert (code, report["action"], report["pipeline_execution_arn"]) == (0, action, None)
    assert sagemaker.requests == []
    assert message.startswith(f"retrain check of iris-model for 2026-11-22: {action}:")


def test_a_refused_start_fails_the_step_with_the_grant_it_needs(step, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_TRAINING__RETRAIN__MAX_AGE_DAYS", "7")
    code, _, message = step(aged(10), FakeSageMaker(refuse="AccessDeniedException"))
    assert code == 1
    headline, fix = message.splitlines()
    assert headline == "not allowed to start the training pipeline iris-staging-training (AccessDeniedException)"
    assert "sagemaker:StartPipelineExecution" in fix and "retrain_on_evidence" in fix


def test_an_empty_training_image_is_refused_on_every_run_once_a_rule_is_set(step, monkeypatch):
    sagemaker = FakeSageMaker()
    code, report, _ = step(aged(10), sagemaker, TrainingImageUri="")
    assert (code, report["action"]) == (0, "wait")  # no rule: it can never fire, so nothing is missing
    monkeypatch.setenv("MLPLATFORM_TRAINING__RETRAIN__ON_QUALITY_DROP", "true")
    code, _, message = step(aged(10), sagemaker, TrainingImageUri=" ")
    assert code == 2
    assert message.startswith("pipeline parameter TrainingImageUri is empty: the retrain step could not start")
    assert sagemaker.requests == []


def test_the_console_script_is_installed_where_run_local_finds_it():
    script = Path(sys.executable).parent / "mlplatform-sagemaker-retrain-check"
    assert script.is_file() and "retrain_check" in script.read_text()
