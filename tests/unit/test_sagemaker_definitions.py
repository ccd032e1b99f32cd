"""SageMaker pipeline definitions: rendered offline, checked against botocore's service model."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from mlplatform.flows.setup import load_settings
from mlplatform.sagemaker.definitions import execution_parameters, render
from mlplatform.sagemaker.validation import validate_step_arguments


@pytest.mark.parametrize("env", ["local", "staging", "prod"])
@pytest.mark.parametrize("kind", ["training", "inference"])
def test_every_definition_matches_the_real_request_shapes(env, kind):
    definition = render(load_settings(env), kind)
    assert definition["Version"] == "2020-12-01"
    assert validate_step_arguments(definition) == []


def test_training_step_follows_the_seeds(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/s")
    step = render(load_settings("staging"), "training")["Steps"][0]
    arguments = step["Arguments"]
    assert step["Type"] == "Training"
    assert arguments["StoppingCondition"]["MaxRuntimeInSeconds"] == 1800
    assert arguments["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    assert arguments["HyperParameters"]["n_estimators"] == "100"  # SageMaker passes strings
    assert arguments["HyperParameters"]["max_depth"] == "10"
    assert arguments["Environment"]["MLFLOW_TRACKING_URI"].startswith("arn:aws:sagemaker:")
    assert arguments["Environment"]["MODEL_NAME"] == "iris-model"
    assert step["RetryPolicies"][0]["ExceptionType"] == ["Step.SERVICE_FAULT", "Step.THROTTLING"]


def test_processing_step_is_sharded_and_carries_the_logical_date(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b-1.msk:9092")
    monkeypatch.setenv("KAFKA_TOPIC", "ml-predictions-staging")
    monkeypatch.setenv("MLPLATFORM_AWS__INFERENCE_INSTANCE_COUNT", "4")
    definition = render(load_settings("staging"), "inference")
    arguments = definition["Steps"][0]["Arguments"]
    assert arguments["StoppingCondition"]["MaxRuntimeInSeconds"] == 1200
    assert arguments["AppSpecification"]["ContainerArguments"] == ["--date", {"Get": "Parameters.LogicalDate"}]
    assert arguments["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert arguments["Environment"]["KAFKA_TOPIC"] == "ml-predictions-staging"
    assert "KAFKA_SASL_PASSWORD" not in json.dumps(definition)
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert parameters["InferenceInstanceCount"] == {"Name": "InferenceInstanceCount", "Type": "Integer",
                                                    "DefaultValue": 4}  # fmt: skip
    assert validate_step_arguments(definition) == []


def test_vpc_config_is_optional_and_valid(monkeypatch):
    monkeypatch.setenv("MLPLATFORM_AWS__SUBNET_IDS", '["subnet-1", "subnet-2"]')
    monkeypatch.setenv("MLPLATFORM_AWS__SECURITY_GROUP_IDS", '["sg-1"]')
    settings = load_settings("prod")
    training = render(settings, "training")
    inference = render(settings, "inference")
    assert training["Steps"][0]["Arguments"]["VpcConfig"]["Subnets"] == ["subnet-1", "subnet-2"]
    assert inference["Steps"][0]["Arguments"]["NetworkConfig"]["VpcConfig"]["SecurityGroupIds"] == ["sg-1"]
    assert validate_step_arguments(training) == validate_step_arguments(inference) == []


def test_invalid_arguments_are_reported():
    definition = render(load_settings(), "training")
    arguments = definition["Steps"][0]["Arguments"]
    arguments["ResourceConfig"]["VolumeSizeInGB"] = "thirty"
    arguments["AlgorithmSpecification"]["TrainingInputMode"] = "Streaming"
    del arguments["RoleArn"]
    problems = " ".join(validate_step_arguments(definition))
    assert "Missing required parameter" in problems and "RoleArn" in problems
    assert "VolumeSizeInGB" in problems
    assert "'Streaming' is not one of" in problems


@pytest.mark.parametrize("kind", ["training", "inference"])
def test_execution_parameters_match_start_pipeline_execution(kind):
    request = execution_parameters(load_settings("staging"), kind, "2026-11-22")
    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("StartPipelineExecution")
        .input_shape
    )
    assert not ParamValidator().validate(request, shape).has_errors()
    values = {p["Name"]: p["Value"] for p in request["PipelineParameters"]}
    assert values["LogicalDate"] == "2026-11-22"
    assert request["PipelineName"] == f"iris-staging-{'training' if kind == 'training' else 'processing'}"
