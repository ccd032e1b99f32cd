"""SageMaker pipeline definitions (schema 2020-12-01), rendered from settings without network.

The training pipeline has one Training step whose Arguments are a CreateTrainingJob request;
the inference pipeline a Processing step that scores (a CreateProcessingJob request), then a
small one that asks the retrain policy and starts the training pipeline when it fires.

What the project's config decides (hyperparameters, instance defaults, model name, limits) is
rendered in. What only exists once the infrastructure does (the tracking server's ARN, the
images pushed, the buckets, the Kafka cluster and its secret) is a pipeline parameter read with
`{"Get": "Parameters.X"}`: Terraform sets those values in the schedule targets and
`mlplatform sagemaker params` for manual runs, so a committed definition never carries a value
rendered before the infrastructure existed. The parameters without a default must be given
(`check_wiring`): a job can never silently fall back to a store inside its container.
Pure: `sagemaker.validation` checks the result against botocore's SageMaker service model.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any, Literal

from mlplatform.errors import ConfigError
from mlplatform.models import get_spec
from mlplatform.sagemaker.expressions import Scope, parameter_values, references, resolve

if TYPE_CHECKING:
    from mlplatform.config.settings import Settings

Kind = Literal["training", "inference"]
DEFINITION_VERSION = "2020-12-01"
TRAIN_ENTRYPOINT = ["mlplatform-sagemaker-train"]
SCORE_ENTRYPOINT = ["mlplatform-sagemaker-score"]
RETRAIN_ENTRYPOINT = ["mlplatform-sagemaker-retrain-check"]
RETRAIN_STEP = "RetrainCheck"  # the Terraform module drops it by this name (retrain_on_evidence = false)
AUTO_DATE = "auto"
PROCESSING_INPUT = "/opt/ml/processing/input/data"
PROCESSING_OUTPUT = "/opt/ml/processing/output"
TRACKING_PARAMETER = "MlflowTrackingUri"
IMAGE_PARAMETERS = {"training": "TrainingImageUri", "inference": "InferenceImageUri"}
# What the retrain step passes on to the training pipeline besides LogicalDate: the values the
# training schedule sends, under the same names (the inference pipeline declares them too).
FORWARDED_TO_TRAINING = (TRACKING_PARAMETER, "TrainingImageUri", "TrainingDataS3Uri", "ModelOutputS3Uri")
# Transient infrastructure failures are retried; a bad input fails at once.
STEP_RETRIES = [
    {
        "ExceptionType": ["Step.SERVICE_FAULT", "Step.THROTTLING"],
        "IntervalSeconds": 30,
        "BackoffRate": 2.0,
        "MaxAttempts": 3,
    },
    {
        "ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"],
        "IntervalSeconds": 60,
        "BackoffRate": 2.0,
        "MaxAttempts": 3,
    },
]
# Where a value for each required parameter comes from, for the error that says it is missing.
PARAMETER_SOURCES = {
    TRACKING_PARAMETER: "the tracking server ARN: terraform output mlflow_tracking_server_arn",
    "TrainingImageUri": "the URI scripts/build_push_ecr.sh training printed",
    "InferenceImageUri": "the URI scripts/build_push_ecr.sh inference printed",
}


def pipeline_name(settings: Settings, kind: Kind) -> str:
    """`<project>-<env>-training` / `<project>-<env>-processing`, as in the seeds."""
    return f"{settings.project}-{settings.env}-{'training' if kind == 'training' else 'processing'}"


def _get(name: str) -> dict[str, str]:
    return {"Get": f"Parameters.{name}"}


def _s3(settings: Settings, *parts: str) -> str:
    return "s3://" + "/".join([settings.aws.bucket, settings.project, *parts])


def _parameter(name: str, default: Any = None, kind: str = "String") -> dict[str, Any]:
    parameter: dict[str, Any] = {"Name": name, "Type": kind}
    if default is not None:
        parameter["DefaultValue"] = default
    return parameter


def _parameters(settings: Settings, kind: Kind) -> list[dict[str, Any]]:
    """Per-execution values. No default = Terraform (or `sagemaker params`) must give one."""
    aws, kafka = settings.aws, settings.inference.kafka
    # EventBridge Scheduler cannot send an empty value; "auto" = the execution's UTC date.
    common = [_parameter("LogicalDate", AUTO_DATE), _parameter(TRACKING_PARAMETER)]
    training_data = _parameter("TrainingDataS3Uri", _s3(settings, "datasets", "training"))
    model_output = _parameter("ModelOutputS3Uri", _s3(settings, "models"))
    if kind == "training":
        return [
            *common,
            _parameter("TrainingImageUri"),
            _parameter("TrainingInstanceType", aws.training_instance_type),
            training_data,
            model_output,
        ]
    return [
        *common,
        _parameter("InferenceImageUri"),
        _parameter("InferenceInstanceType", aws.inference_instance_type),
        _parameter("InferenceInstanceCount", aws.inference_instance_count, "Integer"),
        _parameter("InputS3Uri", _s3(settings, "inference-input")),
        # Predictions: <DataRootS3Uri>/<project>/inference-output/date=D/, committed atomically.
        _parameter("DataRootS3Uri", f"s3://{aws.bucket}"),
        # The per-host run reports SageMaker uploads at the end of the job, one folder per execution.
        _parameter("ReportsS3Uri", _s3(settings, "processing-runs")),
        # Empty = no Kafka sink; Terraform sends only the values it has.
        _parameter("KafkaBootstrapServers", kafka.bootstrap_servers or ""),
        _parameter("KafkaTopic", kafka.topic),
        _parameter("KafkaSecretArn", kafka.secret_arn or ""),
        _parameter("KafkaSecurityProtocol", kafka.security_protocol),
        _parameter("KafkaSaslMechanism", kafka.sasl_mechanism or ""),
        # The retrain step: which pipeline it starts, with the values its schedule sends. Empty
        # image = no training pipeline to start (the step refuses to run with a retrain rule set).
        _parameter("TrainingPipelineName", pipeline_name(settings, "training")),
        _parameter("TrainingImageUri", ""),
        training_data,
        model_output,
        _parameter("RetrainInstanceType", aws.retrain_instance_type),
    ]


def _environment(settings: Settings, kind: Kind) -> dict[str, Any]:
    env: dict[str, Any] = {
        "MLPLATFORM_ENV": settings.env,
        "MLFLOW_TRACKING_URI": _get(TRACKING_PARAMETER),
        "MODEL_NAME": settings.model_name,
        "EXPERIMENT_NAME": settings.experiment_name,
        "AWS_DEFAULT_REGION": settings.aws.region,
    }
    if kind == "inference":
        env |= {
            "MLFLOW_MODEL_URI": settings.model_uri,
            "MLPLATFORM_INFERENCE__OUTPUT_FORMAT": settings.inference.output_format,
            "MLPLATFORM_INFERENCE__DATA_ROOT": _get("DataRootS3Uri"),
            "KAFKA_BOOTSTRAP_SERVERS": _get("KafkaBootstrapServers"),
            "KAFKA_TOPIC": _get("KafkaTopic"),
            "KAFKA_SECRET_ARN": _get("KafkaSecretArn"),
            "KAFKA_SECURITY_PROTOCOL": _get("KafkaSecurityProtocol"),
            "KAFKA_SASL_MECHANISM": _get("KafkaSaslMechanism"),
        }
    return env


def _hyperparameters(settings: Settings) -> dict[str, str]:
    """The family's full hyperparameters, as the strings SageMaker passes to the container."""
    spec = get_spec(settings.model_family)
    return spec.as_strings(spec.parse_params(settings.hyperparameters))


def _vpc(settings: Settings) -> dict[str, Any] | None:
    """From settings when given; the Terraform module adds it from its subnet_ids otherwise."""
    if not settings.aws.subnet_ids:
        return None
    return {"Subnets": list(settings.aws.subnet_ids), "SecurityGroupIds": list(settings.aws.security_group_ids)}


def _training_step(settings: Settings) -> dict[str, Any]:
    aws = settings.aws
    arguments: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingImage": _get("TrainingImageUri"),
            "TrainingInputMode": "File",
            "ContainerEntrypoint": TRAIN_ENTRYPOINT,
            # The logical date picks the training data's date=YYYY-MM-DD/ partition when it has one.
            "ContainerArguments": ["--date", _get("LogicalDate")],
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
        "OutputDataConfig": {"S3OutputPath": _get("ModelOutputS3Uri")},
        "ResourceConfig": {
            "InstanceType": _get("TrainingInstanceType"),
            "InstanceCount": aws.training_instance_count,
            "VolumeSizeInGB": aws.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": aws.training_max_runtime_s},
        "Environment": _environment(settings, "training"),
    }
    if vpc := _vpc(settings):
        arguments["VpcConfig"] = vpc
    return {"Name": "Train", "Type": "Training", "Arguments": arguments, "RetryPolicies": STEP_RETRIES}


def _processing_job(
    settings: Settings, entrypoint: list[str], arguments: list[Any], count: Any, instance: Any
) -> dict[str, Any]:
    """A CreateProcessingJob request of the inference image; its /opt/ml/processing/output goes
    to the execution's reports folder."""
    reports = {"Std:Join": {"On": "/", "Values": [_get("ReportsS3Uri"), {"Get": "Execution.PipelineExecutionId"}]}}
    output = {"S3Uri": reports, "LocalPath": PROCESSING_OUTPUT, "S3UploadMode": "EndOfJob"}
    job: dict[str, Any] = {
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": count,
                "InstanceType": instance,
                "VolumeSizeInGB": settings.aws.volume_size_gb,
            }
        },
        "AppSpecification": {
            "ImageUri": _get("InferenceImageUri"),
            "ContainerEntrypoint": entrypoint,
            "ContainerArguments": ["--date", _get("LogicalDate"), *arguments],
        },
        "RoleArn": settings.aws.role_arn,
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "reports", "AppManaged": False, "S3Output": output}]},
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.aws.inference_max_runtime_s},
        "Environment": _environment(settings, "inference"),
    }
    if vpc := _vpc(settings):
        job["NetworkConfig"] = {"VpcConfig": vpc}
    return job


def _processing_step(settings: Settings) -> dict[str, Any]:
    arguments = _processing_job(
        settings, SCORE_ENTRYPOINT, [], _get("InferenceInstanceCount"), _get("InferenceInstanceType")
    )
    source = {
        "S3Uri": _get("InputS3Uri"),
        "LocalPath": PROCESSING_INPUT,
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "ShardedByS3Key",
    }
    arguments["ProcessingInputs"] = [{"InputName": "input", "AppManaged": False, "S3Input": source}]
    return {"Name": "Score", "Type": "Processing", "Arguments": arguments, "RetryPolicies": STEP_RETRIES}


def _retrain_step(settings: Settings) -> dict[str, Any]:
    """After scoring, one small job asks the retrain policy (the score step's settings and
    evidence) and starts the training pipeline when it fires; its decision lands in the reports."""
    forwarded = [item for name in FORWARDED_TO_TRAINING for item in ("--training-param", name, _get(name))]
    arguments = _processing_job(
        settings,
        RETRAIN_ENTRYPOINT,
        ["--training-pipeline", _get("TrainingPipelineName"), *forwarded],
        1,
        _get("RetrainInstanceType"),
    )
    return {
        "Name": RETRAIN_STEP,
        "Type": "Processing",
        "DependsOn": ["Score"],
        "Arguments": arguments,
        "RetryPolicies": STEP_RETRIES,
    }


def render(settings: Settings, kind: Kind) -> dict[str, Any]:
    """The pipeline definition as a dict; `json.dumps` it for `aws sagemaker create-pipeline`."""
    steps = [_training_step(settings)] if kind == "training" else [_processing_step(settings), _retrain_step(settings)]
    return {
        "Version": DEFINITION_VERSION,
        "Metadata": {"generated_by": "mlplatform", "environment": settings.env},
        "Parameters": _parameters(settings, kind),
        "PipelineExperimentConfig": {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        },
        "Steps": steps,
    }


def render_json(settings: Settings, kind: Kind) -> str:
    return json.dumps(render(settings, kind), indent=2, sort_keys=False)


# -- wiring: deployment-time values must reach every step

_REMOTE_TRACKING = re.compile(r"^(arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:mlflow-tracking-server/.+|https?://.+)$")


def _job_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in definition.get("Steps", []) if s.get("Type") in ("Training", "Processing")]


def check_definition_wiring(definition: dict[str, Any]) -> list[str]:
    """Problems that would let a deployed step run without its tracking server: every step's
    MLFLOW_TRACKING_URI must be a parameter without a default, or a remote URI."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    problems = []
    for step in _job_steps(definition):
        value = step.get("Arguments", {}).get("Environment", {}).get("MLFLOW_TRACKING_URI")
        if value is None:
            problems.append(f"step {step['Name']} sets no MLFLOW_TRACKING_URI")
        elif isinstance(value, str):
            if not _REMOTE_TRACKING.match(value):
                problems.append(f"step {step['Name']}: MLFLOW_TRACKING_URI={value!r} is not a tracking server")
        else:
            for path in references(value):
                parameter = declared.get(path.removeprefix("Parameters."), {})
                if path.startswith("Parameters.") and "DefaultValue" in parameter:
                    problems.append(f"step {step['Name']}: MLFLOW_TRACKING_URI reads {path}, which has a default")
    return problems


def check_wiring(definition: dict[str, Any], values: dict[str, Any]) -> None:
    """Before an execution starts: every step's tracking URI resolves to a tracking server and
    no image is a tag nobody pushes. One error naming the parameter and where its value is."""
    scope = Scope(values, {"PipelineExecutionId": "check", "PipelineName": "check"})
    for step in _job_steps(definition):
        raw = step.get("Arguments", {}).get("Environment", {}).get("MLFLOW_TRACKING_URI")
        names = [p.removeprefix("Parameters.") for p in references(raw)] or ["MLFLOW_TRACKING_URI"]
        tracking = str(resolve(raw, scope) or "")
        if not tracking.strip():
            raise ConfigError(
                f"step {step['Name']}: the MLflow tracking URI is empty (pipeline parameter {names[0]})",
                f"pass --param {names[0]}=<{PARAMETER_SOURCES[TRACKING_PARAMETER]}>",
            )
        if not _REMOTE_TRACKING.match(tracking):
            raise ConfigError(
                f"step {step['Name']}: MLflow tracking URI {tracking!r} is not a tracking server "
                "(a store inside the job is lost when it ends)",
                f"pass --param {names[0]}=<{PARAMETER_SOURCES[TRACKING_PARAMETER]}>",
            )
    for name in IMAGE_PARAMETERS.values():
        image = str(values.get(name, ""))
        if image.endswith(":latest"):
            raise ConfigError(
                f"pipeline parameter {name}={image} uses the tag 'latest', which the build never pushes",
                f"pass --param {name}=<{PARAMETER_SOURCES[name]}>",
            )


def execution_values(settings: Settings, kind: Kind, logical_date: str, given: dict[str, str]) -> dict[str, Any]:
    """The parameter values of a manual execution: the definition's defaults, then the values
    settings know (tracking URI, image, Kafka), then `--param`; checked as `check_wiring` does."""
    definition = render(settings, kind)
    aws, kafka = settings.aws, settings.inference.kafka
    known: dict[str, Any] = {
        "LogicalDate": logical_date,
        TRACKING_PARAMETER: aws.mlflow_tracking_uri or settings.tracking_uri,
        IMAGE_PARAMETERS[kind]: aws.training_image_uri if kind == "training" else aws.inference_image_uri,
    }
    if kind == "inference":
        known |= {"KafkaBootstrapServers": kafka.bootstrap_servers, "KafkaSecretArn": kafka.secret_arn}
        # The retrain step passes the training image on: a pushed one, never the config's `latest`
        # placeholder (without it the step refuses to run once a retrain rule is set).
        if not aws.training_image_uri.endswith(":latest"):
            known["TrainingImageUri"] = aws.training_image_uri
    values = parameter_values(definition, {k: v for k, v in known.items() if v} | given)
    check_wiring(definition, values)
    return values


def execution_parameters(
    settings: Settings, kind: Kind, logical_date: str = AUTO_DATE, given: dict[str, str] | None = None
) -> dict[str, Any]:
    """The JSON for `aws sagemaker start-pipeline-execution --cli-input-json file://...`."""
    values = execution_values(settings, kind, logical_date, given or {})
    request: dict[str, Any] = {
        "PipelineName": pipeline_name(settings, kind),
        "PipelineExecutionDisplayName": f"{kind}-{logical_date}",
        # Empty values cannot be sent (the API's minimum length): the default applies instead.
        "PipelineParameters": [{"Name": k, "Value": str(v)} for k, v in values.items() if str(v) != ""],
        "PipelineExecutionDescription": f"{kind} run started by hand ({settings.env})",
    }
    if logical_date != AUTO_DATE:
        # Same pipeline + date = same token: SageMaker starts it once however often it is sent.
        request["ClientRequestToken"] = request_token(request["PipelineName"], logical_date)
    return request


def request_token(*parts: str) -> str:
    """A ClientRequestToken (32-128 characters) that is the same whenever the parts are."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:40]
