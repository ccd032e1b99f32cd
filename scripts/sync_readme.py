"""Regenerate what is derived from the settings (`make docs`): the README's configuration table
and the committed SageMaker pipeline definitions of the Terraform environments."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlplatform.config.reference import settings_reference_markdown
from mlplatform.models import hyperparameters_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def main() -> None:
    text = README.read_text()
    text = _replace_block(text, "config-table", settings_reference_markdown())
    text = _replace_block(text, "hyperparameters-table", hyperparameters_markdown())
    README.write_text(text)
    write_definitions()
    write_module_readmes()


def _replace_block(text: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    updated, count = re.subn(re.escape(start) + r".*?" + re.escape(end), f"{start}\n{content}\n{end}", text,
                             flags=re.DOTALL)  # fmt: skip
    if count != 1:
        raise SystemExit(f"{README}: expected one {start} ... {end} block")
    return updated


USAGE = {
    "ecr": """module "ecr" {
  source       = "../../modules/ecr"
  project_name = "iris"
  environment  = "staging"   # repositories iris-staging-training and iris-staging-inference
}""",
    "monitoring": """module "monitoring" {
  source            = "../../modules/monitoring"
  project_name      = "iris"
  environment       = "staging"
  pipeline_arns     = [module.sagemaker_pipelines.training_pipeline_arn, module.sagemaker_pipelines.processing_pipeline_arn]
  alert_emails      = ["ml-oncall@example.com"]
  slack_webhook_url = var.slack_webhook_url   # optional, sensitive
}""",
    "mlflow": """module "mlflow" {
  source             = "../../modules/mlflow"
  project_name       = "mlflow"
  environment        = "staging"
  bucket_name_suffix = "alice-staging"
}""",
    "sagemaker-pipelines": """module "sagemaker_pipelines" {
  source                         = "../../modules/sagemaker-pipelines"
  project_name                   = "iris"
  environment                    = "staging"
  s3_bucket_arn                  = "arn:aws:s3:::iris-ml-staging"
  mlflow_tracking_server_arn     = module.mlflow.tracking_server_arn
  mlflow_artifact_bucket_arn     = module.mlflow.artifact_bucket_arn
  enable_processing_pipeline     = true
  training_pipeline_definition   = file("definitions/training.json")   # mlplatform sagemaker definition training
  processing_pipeline_definition = file("definitions/inference.json")  # mlplatform sagemaker definition inference
  training_image_uri             = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-training:abc123"
  inference_image_uri            = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-inference:abc123"
  enable_training_schedule       = true
  enable_processing_schedule     = true
  kafka_bootstrap_servers        = "b-1.my-cluster.kafka.us-east-1.amazonaws.com:9096"
  kafka_topic                    = "ml-predictions-staging"
  kafka_secret_arn               = "arn:aws:secretsmanager:us-east-1:123456789012:secret:AmazonMSK_staging-abc123"
  kafka_security_protocol        = "SASL_SSL"
}""",
    "training-job": """module "training_job" {
  source         = "../../modules/training-job"
  project_name   = "ml-platform"
  environment    = "staging"
  training_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-training:abc123"
  s3_bucket_arn  = "arn:aws:s3:::ml-platform-staging-ml-bucket"
  input_channels = [{ name = "training", s3_uri = "s3://ml-platform-staging-ml-bucket/datasets/training/" }]
  output_s3_path = "s3://ml-platform-staging-ml-bucket/training-outputs/"
  hyperparameters = { n_estimators = "100", max_depth = "5", random_state = "42", criterion = "gini" }
  environment_variables      = { MLFLOW_TRACKING_URI = module.mlflow.tracking_server_arn }  # required
  mlflow_tracking_server_arn = module.mlflow.tracking_server_arn
  mlflow_artifact_bucket_arn = module.mlflow.artifact_bucket_arn
}""",
}

# Written after the tables: what a reader of the seeds needs to map their inputs to ours.
NOTES = {
    "sagemaker-pipelines": """## Wiring: what the steps receive

The definitions read every deployment-time value as a pipeline parameter; this module sends them
in the schedule targets (empty values are not sent: the definition's default applies) and outputs
them as `pipeline_parameters` for manual runs.

| Pipeline parameter | Set from | Step reads it as |
|---|---|---|
| `MlflowTrackingUri` (no default) | `mlflow_tracking_server_arn` | `MLFLOW_TRACKING_URI` |
| `TrainingImageUri` / `InferenceImageUri` (no default) | `training_image_uri` / `inference_image_uri` | the job's image |
| `TrainingDataS3Uri` | `input_data_s3_path` | the `training` channel |
| `ModelOutputS3Uri` | `model_output_s3_path` | `OutputDataConfig.S3OutputPath` |
| `InputS3Uri` | `inference_input_s3_path` | the processing input (sharded by key) |
| `DataRootS3Uri` | `inference_output_s3_path` | `MLPLATFORM_INFERENCE__DATA_ROOT` |
| `ReportsS3Uri` | `s3://<bucket>/<s3_prefix>/processing-runs` | the processing output, per execution |
| `KafkaBootstrapServers`, `KafkaTopic` | `kafka_bootstrap_servers`, `kafka_topic` | `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_TOPIC` |
| `KafkaSecretArn`, `KafkaSecurityProtocol`, `KafkaSaslMechanism` | `kafka_secret_arn`, `kafka_security_protocol`, `kafka_sasl_mechanism` | `KAFKA_SECRET_ARN`, ... |
| `LogicalDate` | `auto` (the execution's UTC date) | `--date` |
| `TrainingPipelineName` (inference) | this module's training pipeline, `<project_name>-<environment>-training` | the `RetrainCheck` step: the pipeline it starts |
| `TrainingImageUri`, `TrainingDataS3Uri`, `ModelOutputS3Uri`, `MlflowTrackingUri` (inference) | the training schedule's values | the `RetrainCheck` step: passed on to the training execution it starts |
| `RetrainInstanceType` (inference) | not sent: `aws.retrain_instance_type` (`ml.t3.medium`) | the `RetrainCheck` job's instance |

## The retrain step

The inference definition ends with a `RetrainCheck` step (`DependsOn` the scoring step): it asks
mlplatform's retrain policy (`training.retrain` in `config/<env>.toml`, all rules off by default)
and, when it says `retrain`, starts the training pipeline with `StartPipelineExecution`. This
module grants the processing role exactly `sagemaker:StartPipelineExecution` on the training
pipeline, read access to `<data root>/<s3_prefix>/labels/` and read/write to
`<data root>/<s3_prefix>/monitoring/` (the realized-quality cache). `retrain_on_evidence = false`
(or deploying only one of the pipelines) removes the step from the deployed definition and all three grants.

## Seed 002's inputs

| Seed 002 input | Here |
|---|---|
| `input_data_s3_path`, `model_output_s3_path`, `inference_input_s3_path` | same names |
| `inference_output_s3_path` | same name: the predictions root; they land in `<it>/<s3_prefix>/inference-output/date=D/` |
| `training_environment_variables`, `processing_environment_variables` | same names, merged into the steps' environment; the wired names (`MLFLOW_TRACKING_URI`, `KAFKA_*`, ...) are refused: use their own variables |
| `MLFLOW_TRACKING_URI` in those maps | `mlflow_tracking_server_arn` |
| `KAFKA_TOPIC` in `processing_environment_variables` | `kafka_topic` |
| `MLFLOW_MODEL_URI` in `processing_environment_variables` | `inference.model_uri` in `config/<env>.toml` (rendered into the definition) |
| `vpc_id`, `subnet_ids`, `security_group_ids` | same names; with subnets every step gets a `VpcConfig` |
| `enable_*_pipeline`, `enable_*_schedule` | same names |
| ECR repositories "must exist" | the `ecr` module creates them |
""",
}


def _cell(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text.replace("|", "\\|").replace("\n", " ")


def write_module_readmes() -> None:
    """Inputs and outputs tables, generated from the module's variables and outputs."""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True)
    for module in sorted((README.parent / "infra" / "terraform" / "modules").iterdir()):
        variables: dict[str, dict] = {}
        outputs: dict[str, dict] = {}
        for path in sorted(module.glob("*.tf")):
            with open(path) as handle:
                parsed = hcl2.load(handle, serialization_options=options)
            for block in parsed.get("variable", []):
                variables.update(block)
            for block in parsed.get("output", []):
                outputs.update(block)
        intro = [line.removeprefix("# ").strip() for line in (module / "main.tf").read_text().splitlines()
                 if line.startswith("#")]  # fmt: skip
        lines = [f"# Module `{module.name}`", "", " ".join(intro), "", "## Usage", "", "```hcl",
                 USAGE[module.name], "```", "", "## Inputs", "",
                 "| Name | Description | Type | Default | Required |", "|---|---|---|---|:---:|"]  # fmt: skip
        for name, spec in variables.items():
            default = f"`{_cell(spec['default'])}`" if "default" in spec else "n/a"
            required = "no" if "default" in spec else "yes"
            kind = _cell(spec.get("type", "any"))
            kind = kind[2:-1] if kind.startswith("${") and kind.endswith("}") else kind
            lines.append(f"| `{name}` | {_cell(spec.get('description', ''))} | `{kind}` | {default} | {required} |")
        lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(spec.get('description', ''))} |" for name, spec in outputs.items()]
        if module.name in NOTES:
            lines += ["", NOTES[module.name].rstrip()]
        lines += [
            "",
            "Generated by `make docs` from the module's variables and outputs; edit those, not this file.",
            "",
        ]
        (module / "README.md").write_text("\n".join(lines))


def write_definitions() -> None:
    import os

    from mlplatform.flows.setup import load_settings
    from mlplatform.sagemaker.definitions import render_json

    root = README.parent
    # Only config/<env>.toml may shape the committed definitions, not this shell's variables.
    for name in list(os.environ):
        if name.startswith(("MLPLATFORM_", "KAFKA_", "MLFLOW_")) or name in ("MODEL_NAME", "EXPERIMENT_NAME"):
            del os.environ[name]
    os.environ["MLPLATFORM_CONFIG_DIR"] = str(root / "config")
    for env in ("staging", "prod"):
        settings = load_settings(env)
        for kind in ("training", "inference"):
            target = root / "infra" / "terraform" / "envs" / env / "definitions" / f"{kind}.json"
            target.write_text(render_json(settings, kind) + "\n")


if __name__ == "__main__":
    main()
