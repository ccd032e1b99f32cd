"""SageMaker pipeline definitions: rendered offline, checked against botocore's service model."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from mlplatform.errors import ConfigError
from mlplatform.flows.setup import load_settings
from mlplatform.sagemaker.definitions import (
    check_definition_wiring,
    check_wiring,
    execution_parameters,
    render,
)
from mlplatform.sagemaker.validation import validate_step_arguments

ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlflow-staging-mlflow"
IMAGES = {
    "TrainingImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-training:0123456789ab",
    "InferenceImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-inference:0123456789ab",
}


@pytest.mark.parametrize("env", ["local", "staging", "prod"])
@pytest.mark.parametrize("kind", ["training", "inference"])
def test_every_definition_matches_the_real_request_shapes(env, kind):
    definition = render(load_settings(env), kind)
    assert definition["Version"] == "2020-12-01"
    assert validate_step_arguments(definition) == []


def test_training_step_follows_the_seeds(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ARN)  # not rendered in: it is a parameter
    definition = render(load_settings("staging"), "training")
    step = definition["Steps"][0]
    arguments = step["Arguments"]
    assert step["Type"] == "Training"
    assert arguments["StoppingCondition"]["MaxRuntimeInSeconds"] == 1800
    assert arguments["ResourceConfig"]["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    assert arguments["HyperParameters"]["n_estimators"] == "100"  # SageMaker passes strings
    assert arguments["HyperParameters"]["max_depth"] == "10"
    assert arguments["Environment"]["MLFLOW_TRACKING_URI"] == {"Get": "Parameters.MlflowTrackingUri"}
    assert ARN not in json.dumps(definition)
    assert arguments["Environment"]["MODEL_NAME"] == "iris-model"
    assert arguments["AlgorithmSpecification"]["ContainerArguments"] == ["--date", {"Get": "Parameters.LogicalDate"}]
    assert arguments["OutputDataConfig"]["S3OutputPath"] == {"Get": "Parameters.ModelOutputS3Uri"}
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
    assert arguments["Environment"]["KAFKA_TOPIC"] == {"Get": "Parameters.KafkaTopic"}
    assert "KAFKA_SASL_PASSWORD" not in json.dumps(definition)
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    assert parameters["KafkaTopic"]["DefaultValue"] == "ml-predictions-staging"  # config is the default
    assert parameters["KafkaBootstrapServers"]["DefaultValue"] == "b-1.msk:9092"
    reports = arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert reports == {"Std:Join": {"On": "/", "Values": [{"Get": "Parameters.ReportsS3Uri"},
                                                          {"Get": "Execution.PipelineExecutionId"}]}}  # fmt: skip
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
    assert inference["Steps"][1]["Arguments"]["NetworkConfig"] == inference["Steps"][0]["Arguments"]["NetworkConfig"]
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
    image = IMAGES["TrainingImageUri" if kind == "training" else "InferenceImageUri"]
    given = {"MlflowTrackingUri": ARN, "TrainingImageUri" if kind == "training" else "InferenceImageUri": image}
    request = execution_parameters(load_settings("staging"), kind, "2026-11-22", given)
    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("StartPipelineExecution")
        .input_shape
    )
    assert not ParamValidator().validate(request, shape).has_errors()
    values = {p["Name"]: p["Value"] for p in request["PipelineParameters"]}
    assert values["LogicalDate"] == "2026-11-22"
    assert values["MlflowTrackingUri"] == ARN
    assert "" not in values.values()  # empty values cannot be sent; the default applies
    assert request["PipelineName"] == f"iris-staging-{'training' if kind == 'training' else 'processing'}"
    if kind == "inference":  # the config's `latest` placeholder is not passed on to the retrain step
        assert "TrainingImageUri" not in values


@pytest.mark.parametrize("env", ["local", "staging", "prod"])
@pytest.mark.parametrize("kind", ["training", "inference"])
def test_every_step_is_wired_to_a_tracking_parameter_without_default(env, kind):
    definition = render(load_settings(env), kind)
    assert check_definition_wiring(definition) == []
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    for name in ("MlflowTrackingUri", "TrainingImageUri" if kind == "training" else "InferenceImageUri"):
        assert "DefaultValue" not in parameters[name]  # Terraform must give it; nothing stale is rendered in


def test_a_definition_that_could_run_without_tracking_server_is_reported():
    definition = render(load_settings("staging"), "inference")
    environment = definition["Steps"][0]["Arguments"]["Environment"]
    del environment["MLFLOW_TRACKING_URI"]
    assert check_definition_wiring(definition) == ["step Score sets no MLFLOW_TRACKING_URI"]
    environment["MLFLOW_TRACKING_URI"] = "sqlite:///opt/ml/mlflow.db"
    assert "is not a tracking server" in check_definition_wiring(definition)[0]
    environment["MLFLOW_TRACKING_URI"] = {"Get": "Parameters.InputS3Uri"}
    assert "has a default" in check_definition_wiring(definition)[0]


@pytest.mark.parametrize(
    ("settings_env", "given", "expected"),
    [
        ({}, {}, "pipeline parameter MlflowTrackingUri has no value and no default"),
        ({}, {"MlflowTrackingUri": ""}, "the MLflow tracking URI is empty (pipeline parameter MlflowTrackingUri)"),
        ({"MLFLOW_TRACKING_URI": "sqlite:///tmp/x.db"}, {}, "'sqlite:///tmp/x.db' is not a tracking server"),
        ({"MLFLOW_TRACKING_URI": ARN}, {}, "TrainingImageUri=123456789012.dkr.ecr.us-east-1.amazonaws.com/"
                                           "iris-staging-training:latest uses the tag 'latest'"),
        ({"MLFLOW_TRACKING_URI": ARN}, {"Bogus": "1"}, "pipeline parameter 'Bogus' is not declared"),
    ],
)  # fmt: skip
def test_manual_parameters_refuse_an_unwired_run(monkeypatch, settings_env, given, expected):
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        execution_parameters(load_settings("staging"), "training", "2026-11-22", given)
    assert expected in error.value.headline
    assert error.value.fix


def test_manual_parameters_take_the_tracking_uri_and_kafka_from_settings(monkeypatch):
    monkeypatch.setenv("MLPLATFORM_AWS__MLFLOW_TRACKING_URI", ARN)
    monkeypatch.setenv("MLPLATFORM_AWS__INFERENCE_IMAGE_URI", IMAGES["InferenceImageUri"])
    monkeypatch.setenv("MLPLATFORM_AWS__TRAINING_IMAGE_URI", IMAGES["TrainingImageUri"])
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b-1.msk:9096")
    monkeypatch.setenv("KAFKA_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_x")
    request = execution_parameters(load_settings("staging"), "inference", "2026-11-22", {"KafkaTopic": "t"})
    values = {p["Name"]: p["Value"] for p in request["PipelineParameters"]}
    assert values["MlflowTrackingUri"] == ARN
    assert values["InferenceImageUri"] == IMAGES["InferenceImageUri"]
    assert values["TrainingImageUri"] == IMAGES["TrainingImageUri"]  # the retrain step passes it on
    assert values["KafkaBootstrapServers"] == "b-1.msk:9096" and values["KafkaTopic"] == "t"
    assert values["KafkaSecretArn"].endswith(":secret:AmazonMSK_x")
    assert values["InferenceInstanceCount"] == "1"


def test_wiring_check_resolves_what_each_step_reads():
    definition = render(load_settings("staging"), "training")
    values = {"MlflowTrackingUri": "https://mlflow.internal", "TrainingImageUri": IMAGES["TrainingImageUri"]}
    check_wiring(definition, values)  # a remote server is fine
    with pytest.raises(ConfigError, match="is empty"):
        check_wiring(definition, values | {"MlflowTrackingUri": "  "})
