"""Create and start the rendered pipelines, and schedule them, against moto's SageMaker and
EventBridge Scheduler (they accept the calls; botocore validated the shapes)."""

from __future__ import annotations

import json

from mlplatform.clients import Clients
from mlplatform.flows.setup import load_settings
from mlplatform.sagemaker.definitions import execution_parameters, pipeline_name, render

ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlflow-staging-mlflow"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-{}:0123456789ab"


def test_create_start_and_schedule_both_pipelines(s3_bucket, cli, tmp_path):
    settings = load_settings("staging")
    sagemaker = Clients().boto3("sagemaker")
    scheduler = Clients().boto3("scheduler")
    for kind, expression in (("training", settings.schedule.training_schedule),
                             ("inference", settings.schedule.inference_schedule)):  # fmt: skip
        out = tmp_path / f"{kind}.json"
        assert cli("--env", "staging", "sagemaker", "definition", kind, "--out", str(out)).exit_code == 0
        assert json.loads(out.read_text()) == render(settings, kind)
        name = pipeline_name(settings, kind)
        created = sagemaker.create_pipeline(
            PipelineName=name, PipelineDefinition=out.read_text(), RoleArn=settings.aws.role_arn
        )
        image = "TrainingImageUri" if kind == "training" else "InferenceImageUri"
        given = {"MlflowTrackingUri": ARN, image: IMAGE.format(kind)}
        params = execution_parameters(settings, kind, "2026-11-22", given)
        started = sagemaker.start_pipeline_execution(
            PipelineName=params["PipelineName"], PipelineParameters=params["PipelineParameters"]
        )
        assert started["PipelineExecutionArn"].startswith(created["PipelineArn"])
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=expression,
            ScheduleExpressionTimezone=settings.schedule.timezone,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": created["PipelineArn"],
                "RoleArn": settings.aws.role_arn,
                "SageMakerPipelineParameters": {"PipelineParameterList": [
                    {"Name": "LogicalDate", "Value": "auto"}, {"Name": "MlflowTrackingUri", "Value": ARN},
                    {"Name": image, "Value": IMAGE.format(kind)},
                ]},
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            },
        )  # fmt: skip
        assert scheduler.get_schedule(Name=name)["ScheduleExpression"] == expression
    listed = {p["PipelineName"] for p in sagemaker.list_pipelines()["PipelineSummaries"]}
    assert {"iris-staging-training", "iris-staging-processing"} <= listed


def test_eventbridge_rules_can_target_the_pipelines(s3_bucket):
    """The module's alternative to EventBridge Scheduler: a rule per pipeline (UTC only)."""
    settings = load_settings("prod")
    sagemaker = Clients().boto3("sagemaker")
    events = Clients().boto3("events")
    name = pipeline_name(settings, "inference")
    arn = sagemaker.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(render(settings, "inference")), RoleArn=settings.aws.role_arn
    )["PipelineArn"]
    events.put_rule(Name=name, ScheduleExpression=settings.schedule.inference_schedule, State="ENABLED")
    events.put_targets(
        Rule=name,
        Targets=[{
            "Id": "pipeline", "Arn": arn, "RoleArn": settings.aws.role_arn,
            "SageMakerPipelineParameters": {"PipelineParameterList": [{"Name": "LogicalDate", "Value": "auto"}]},
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        }],
    )  # fmt: skip
    assert events.describe_rule(Name=name)["ScheduleExpression"] == "cron(0 6 * * ? *)"
    target = events.list_targets_by_rule(Rule=name)["Targets"][0]
    assert target["Arn"] == arn
