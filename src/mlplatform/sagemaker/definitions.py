"""SageMaker pipeline definitions (schema 2020-12-01), rendered from settings without network.

The training pipeline has one Training step whose Arguments are a CreateTrainingJob request;
the inference pipeline one Processing step whose Arguments are a CreateProcessingJob request.
Values that differ per execution are pipeline Parameters referenced with `{"Get": ...}`.
Pure: `sagemaker.validation` checks the result against botocore's SageMaker service model.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Literal

from mlplatform.models import get_spec

if TYPE_CHECKING:
    from mlplatform.config.settings import Settings

Kind = Literal["training", "inference"]
DEFINITION_VERSION = "2020-12-01"
TRAIN_ENTRYPOINT = ["mlplatform-sagemaker-train"]
SCORE_ENTRYPOINT = ["mlplatform-sagemaker-score"]
AUTO_DATE = "auto"
PROCESSING_INPUT = "/opt/ml/processing/input/data"
PROCESSING_OUTPUT = "/opt/ml/processing/output"
# Transient infrastructure failures are retried; a bad input fails at once.
STEP_RETRIES = [
    {"ExceptionType": ["Step.SERVICE_FAULT", "Step.THROTTLING"], "IntervalSeconds": 30, "BackoffRate": 2.0,
     "MaxAttempts": 3},
    {"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"],
     "IntervalSeconds": 60, "BackoffRate": 2.0, "MaxAttempts": 3},
]  # fmt: skip


def pipeline_name(settings: Settings, kind: Kind) -> str:
    """`<project>-<env>-training` / `<project>-<env>-processing`, as in the seeds."""
    return f"{settings.project}-{settings.env}-{'training' if kind == 'training' else 'processing'}"


def _get(name: str) -> dict[str, str]:
    return {"Get": f"Parameters.{name}"}


def _s3(settings: Settings, *parts: str) -> str:
    return "s3://" + "/".join([settings.aws.bucket, settings.project, *parts])


def _environment(settings: Settings, kind: Kind) -> dict[str, Any]:
    tracking = settings.aws.mlflow_tracking_uri or settings.tracking_uri or ""
    env: dict[str, Any] = {
        "MLPLATFORM_ENV": settings.env,
        "MLFLOW_TRACKING_URI": tracking,
        "MODEL_NAME": settings.model_name,
        "EXPERIMENT_NAME": settings.experiment_name,
        "AWS_DEFAULT_REGION": settings.aws.region,
    }
    if kind == "inference":
        env["MLFLOW_MODEL_URI"] = settings.model_uri
        env["MLPLATFORM_INFERENCE__OUTPUT_FORMAT"] = settings.inference.output_format
        kafka = settings.inference.kafka
        if kafka.enabled:
            env["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap_servers
            env["KAFKA_TOPIC"] = kafka.topic
            env["KAFKA_SECURITY_PROTOCOL"] = kafka.security_protocol
    return {k: v for k, v in env.items() if v not in ("", None)}


def _hyperparameters(settings: Settings) -> dict[str, str]:
    """The family's full hyperparameters, as the strings SageMaker passes to the container."""
    spec = get_spec(settings.model_family)
    return spec.as_strings(spec.parse_params(settings.hyperparameters))


def _vpc(settings: Settings) -> dict[str, Any] | None:
    if not settings.aws.subnet_ids:
        return None
    return {"Subnets": list(settings.aws.subnet_ids), "SecurityGroupIds": list(settings.aws.security_group_ids)}


def render(settings: Settings, kind: Kind) -> dict[str, Any]:
    """The pipeline definition as a dict; `json.dumps` it for `aws sagemaker create-pipeline`."""
    aws = settings.aws
    parameters: list[dict[str, Any]] = [
        # EventBridge Scheduler cannot send an empty value; "auto" = the execution's UTC date.
        {"Name": "LogicalDate", "Type": "String", "DefaultValue": AUTO_DATE},
    ]
    if kind == "training":
        parameters += [
            {"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": aws.training_instance_type},
            {"Name": "TrainingImageUri", "Type": "String", "DefaultValue": aws.training_image_uri},
            {"Name": "TrainingDataS3Uri", "Type": "String", "DefaultValue": _s3(settings, "datasets", "training")},
        ]
        arguments: dict[str, Any] = {
            "AlgorithmSpecification": {
                "TrainingImage": _get("TrainingImageUri"),
                "TrainingInputMode": "File",
                "ContainerEntrypoint": TRAIN_ENTRYPOINT,
            },
            "RoleArn": aws.role_arn,
            "HyperParameters": _hyperparameters(settings),
            "InputDataConfig": [
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": _get("TrainingDataS3Uri"),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": _s3(settings, "models")},
            "ResourceConfig": {
                "InstanceType": _get("TrainingInstanceType"),
                "InstanceCount": aws.training_instance_count,
                "VolumeSizeInGB": aws.volume_size_gb,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": aws.training_max_runtime_s},
            "Environment": _environment(settings, kind),
        }
        if vpc := _vpc(settings):
            arguments["VpcConfig"] = vpc
        step = {"Name": "Train", "Type": "Training", "Arguments": arguments, "RetryPolicies": STEP_RETRIES}
    else:
        parameters += [
            {"Name": "InferenceInstanceType", "Type": "String", "DefaultValue": aws.inference_instance_type},
            {"Name": "InferenceInstanceCount", "Type": "Integer", "DefaultValue": aws.inference_instance_count},
            {"Name": "InferenceImageUri", "Type": "String", "DefaultValue": aws.inference_image_uri},
            {"Name": "InputS3Uri", "Type": "String", "DefaultValue": _s3(settings, "inference-input")},
            {"Name": "OutputS3Uri", "Type": "String", "DefaultValue": _s3(settings, "inference-output")},
        ]
        arguments = {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": _get("InferenceInstanceCount"),
                    "InstanceType": _get("InferenceInstanceType"),
                    "VolumeSizeInGB": aws.volume_size_gb,
                }
            },
            "AppSpecification": {
                "ImageUri": _get("InferenceImageUri"),
                "ContainerEntrypoint": SCORE_ENTRYPOINT,
                "ContainerArguments": ["--date", _get("LogicalDate")],
            },
            "RoleArn": aws.role_arn,
            "ProcessingInputs": [
                {
                    "InputName": "input",
                    "AppManaged": False,
                    "S3Input": {
                        "S3Uri": _get("InputS3Uri"),
                        "LocalPath": PROCESSING_INPUT,
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "ShardedByS3Key",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "predictions",
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": _get("OutputS3Uri"),
                            "LocalPath": PROCESSING_OUTPUT,
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": aws.inference_max_runtime_s},
            "Environment": _environment(settings, kind),
        }
        if vpc := _vpc(settings):
            arguments["NetworkConfig"] = {"VpcConfig": vpc}
        step = {"Name": "Score", "Type": "Processing", "Arguments": arguments, "RetryPolicies": STEP_RETRIES}
    return {
        "Version": DEFINITION_VERSION,
        "Metadata": {"generated_by": "mlplatform", "environment": settings.env},
        "Parameters": parameters,
        "PipelineExperimentConfig": {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        },
        "Steps": [step],
    }


def render_json(settings: Settings, kind: Kind) -> str:
    return json.dumps(render(settings, kind), indent=2, sort_keys=False)


def execution_parameters(settings: Settings, kind: Kind, logical_date: str = AUTO_DATE) -> dict[str, Any]:
    """The JSON for `aws sagemaker start-pipeline-execution --cli-input-json file://...`."""
    definition = render(settings, kind)
    values = {p["Name"]: p.get("DefaultValue", "") for p in definition["Parameters"]}
    values["LogicalDate"] = logical_date
    request: dict[str, Any] = {
        "PipelineName": pipeline_name(settings, kind),
        "PipelineExecutionDisplayName": f"{kind}-{logical_date}",
        "PipelineParameters": [{"Name": k, "Value": str(v)} for k, v in values.items()],
        "PipelineExecutionDescription": f"{kind} run started by hand ({settings.env})",
    }
    if logical_date != AUTO_DATE:
        # Same pipeline + date = same token: SageMaker starts it once however often it is sent.
        digest = hashlib.sha256(f"{request['PipelineName']}/{logical_date}".encode()).hexdigest()
        request["ClientRequestToken"] = digest[:40]
    return request
