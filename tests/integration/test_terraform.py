"""Terraform, checked offline (no terraform binary or AWS account here): every file parses, every
variable used is declared, every module argument exists, checkov passes, and the values the
environments deploy match config/<env>.toml and the pipeline definitions mlplatform renders."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ENVS = sorted(p for p in (TERRAFORM / "envs").iterdir() if p.is_dir())
OPTIONS = SerializationOptions(strip_string_quotes=True)


def parse(path: Path) -> dict:
    with open(path) as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


def blocks(folder: Path, kind: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in folder.glob("*.tf"):
        for block in parse(path).get(kind, []):
            found.update(block)
    return found


def typed_blocks(folder: Path, kind: str) -> dict[str, dict[str, dict]]:
    """`resource` / `data` blocks by type, then name (blocks() would keep one name per type)."""
    found: dict[str, dict[str, dict]] = {}
    for path in sorted(folder.glob("*.tf")):
        for block in parse(path).get(kind, []):
            for type_name, named in block.items():
                found.setdefault(type_name, {}).update(named)
    return found


def test_there_are_five_modules_and_two_environments():
    assert [m.name for m in MODULES] == ["ecr", "mlflow", "monitoring", "sagemaker-pipelines", "training-job"]
    assert [e.name for e in ENVS] == ["prod", "staging"]


@pytest.mark.parametrize("path", sorted(TERRAFORM.rglob("*.tf")), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses(path):
    assert isinstance(parse(path), dict)


@pytest.mark.parametrize("folder", MODULES + ENVS, ids=lambda p: p.name)
def test_every_variable_used_is_declared_and_described(folder):
    declared = blocks(folder, "variable")
    text = "\n".join(p.read_text() for p in folder.glob("*.tf"))
    used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used - set(declared) == set()
    for name, spec in declared.items():
        assert spec.get("description"), f"variable {name} has no description"
    for name, spec in blocks(folder, "output").items():
        assert spec.get("description"), f"output {name} has no description"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_every_module_argument_exists_and_required_ones_are_given(env):
    meta = {"source", "count", "for_each", "providers", "depends_on", "__is_block__", "__comments__"}
    for name, call in blocks(env, "module").items():
        module_dir = (env / call["source"]).resolve()
        variables = blocks(module_dir, "variable")
        arguments = set(call) - meta
        assert arguments - set(variables) == set(), f"module {name}: unknown arguments"
        required = {v for v, spec in variables.items() if "default" not in spec}
        assert required - arguments == set(), f"module {name}: required arguments missing"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_environments_pin_terraform_and_the_provider_with_a_partial_s3_backend(env):
    terraform = parse(env / "versions.tf")["terraform"][0]
    assert terraform["required_version"] == ">= 1.5"
    assert terraform["required_providers"][0]["aws"]["version"] == "~> 5.73"
    assert terraform["backend"][0]["s3"] == {"__is_block__": True}


def test_checkov_passes_and_every_skip_says_why():
    assert CHECKOV.exists(), "make test installs checkov into .tools/checkov"
    result = subprocess.run(
        [CHECKOV, "-d", str(TERRAFORM), "--framework", "terraform", "--skip-download", "--quiet", "--output", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [c["check_id"] + " " + c["resource"] for r in reports for c in r["results"]["failed_checks"]]
    assert failed == []
    assert sum(r["summary"]["passed"] for r in reports) > 100
    for path in TERRAFORM.rglob("*.tf"):
        for skip in re.findall(r"checkov:skip=([^\n]*)", path.read_text()):
            check, _, reason = skip.partition(":")
            assert re.fullmatch(r"CKV2?_AWS_\d+", check) and len(reason.strip()) > 10, skip


@pytest.mark.parametrize("env", ["staging", "prod"])
@pytest.mark.parametrize("kind", ["training", "inference"])
def test_committed_definitions_are_what_mlplatform_renders(env, kind, monkeypatch):
    from mlplatform.flows.setup import load_settings
    from mlplatform.sagemaker.definitions import render
    from mlplatform.sagemaker.validation import validate_step_arguments

    monkeypatch.setenv("MLPLATFORM_CONFIG_DIR", str(ROOT / "config"))
    committed = json.loads((TERRAFORM / "envs" / env / "definitions" / f"{kind}.json").read_text())
    assert committed == render(load_settings(env), kind), "stale: run `make docs`"
    assert validate_step_arguments(committed) == []


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_tfvars_example_matches_the_environment_config(env):
    config = tomllib.loads((ROOT / "config" / f"{env}.toml").read_text())
    text = (TERRAFORM / "envs" / env / "terraform.tfvars.example").read_text()
    values = dict(re.findall(r'^(\w+)\s*=\s*"?([^"\n]*)"?', text, re.MULTILINE))
    assert values["project_name"] == config["project"]
    assert values["aws_region"] == config["aws"]["region"]
    assert values["s3_bucket_name"] == config["aws"]["bucket"]
    assert values["training_schedule_expression"] == config["schedule"]["training_schedule"]
    assert values["inference_schedule_expression"] == config["schedule"]["inference_schedule"]
    assert values["schedule_timezone"] == config["schedule"]["timezone"]
    assert values["enable_training_schedule"] == str(config["schedule"]["training_enabled"]).lower()
    variables = blocks(TERRAFORM / "envs" / env, "variable")
    assert set(values) <= set(variables)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_readme_lists_every_input_and_output(module):
    readme = (module / "README.md").read_text()
    for name in blocks(module, "variable"):
        assert f"| `{name}` |" in readme, f"input {name} missing from {module.name}/README.md"
    for name in blocks(module, "output"):
        assert f"| `{name}` |" in readme, f"output {name} missing from {module.name}/README.md"


# -- wiring: every deployment-time value reaches the steps as a pipeline parameter set by Terraform

PIPELINES = TERRAFORM / "modules" / "sagemaker-pipelines"
TRACKING_ARN = "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/mlflow-staging-mlflow"
SAMPLE_INPUTS = {
    "project_name": "iris",
    "environment": "staging",
    "s3_bucket_arn": "arn:aws:s3:::iris-ml-staging",
    "s3_prefix": "iris",
    "mlflow_tracking_server_arn": TRACKING_ARN,
    "mlflow_artifact_bucket_arn": "arn:aws:s3:::mlflow-staging-mlflow-artifacts-x",
    "training_image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-training:0123456789ab",
    "inference_image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-staging-inference:0123456789ab",
}
KIND = {"training": "training", "processing": "inference"}


def schedule_parameters(inputs: dict) -> dict[str, dict[str, str]]:
    """What the schedules send: local.parameters without the empty values (mirrors the module)."""
    from tests.support.terraform import Evaluator

    parameters = Evaluator(PIPELINES, inputs).local("parameters")
    return {kind: {k: v for k, v in values.items() if v != ""} for kind, values in parameters.items()}


def test_the_schedules_send_only_non_empty_values_of_local_parameters():
    source = blocks(PIPELINES, "locals")["schedule_parameters"]
    assert 'if value != ""' in source and "local.parameters" in source
    main = (PIPELINES / "main.tf").read_text()
    assert main.count("for_each = local.schedule_parameters[each.key]") == 2  # scheduler and rules targets


@pytest.mark.parametrize("env", ["staging", "prod"])
@pytest.mark.parametrize("pipeline", ["training", "processing"])
@pytest.mark.parametrize("kafka", [False, True], ids=["no-kafka", "kafka"])
def test_terraform_sets_every_parameter_the_committed_definition_needs(env, pipeline, kafka):
    definition = json.loads((TERRAFORM / "envs" / env / "definitions" / f"{KIND[pipeline]}.json").read_text())
    declared = {p["Name"] for p in definition["Parameters"]}
    required = {p["Name"] for p in definition["Parameters"] if "DefaultValue" not in p}
    inputs = SAMPLE_INPUTS | ({"kafka_bootstrap_servers": "b-1:9096", "kafka_topic": "t", "kafka_security_protocol":
                               "SASL_SSL", "kafka_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:k"}
                              if kafka else {})  # fmt: skip
    sent = schedule_parameters(inputs)[pipeline]
    assert required <= set(sent), "the definition needs values Terraform does not set"
    assert set(sent) <= declared, "Terraform sends parameters the definition does not declare"
    assert sent["MlflowTrackingUri"] == TRACKING_ARN


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_the_tracking_server_arn_comes_from_the_mlflow_module(env):
    calls = blocks(env, "module")
    assert calls["sagemaker_pipelines"]["mlflow_tracking_server_arn"] == "${module.mlflow.tracking_server_arn}"
    assert calls["sagemaker_pipelines"]["mlflow_artifact_bucket_arn"] == "${module.mlflow.artifact_bucket_arn}"
    assert calls["training_job"]["environment_variables"]["MLFLOW_TRACKING_URI"] == (
        "${module.mlflow.tracking_server_arn}"
    )


def _validation_regex(variable: dict) -> re.Pattern:
    condition = variable["validation"][0]["condition"]
    pattern = re.search(r'regex\("(.+?)", var\.', condition).group(1)
    return re.compile(pattern.replace("\\\\", "\\"))


def test_terraform_refuses_an_empty_tracking_server():
    variable = blocks(PIPELINES, "variable")["mlflow_tracking_server_arn"]
    assert "default" not in variable  # required
    pattern = _validation_regex(variable)
    assert pattern.search(TRACKING_ARN)
    for bad in ("", "sqlite:///mlflow.db", "https://mlflow.example.com", "arn:aws:s3:::bucket"):
        assert not pattern.search(bad), bad
    pipeline = typed_blocks(PIPELINES, "resource")["aws_sagemaker_pipeline"]["this"]
    conditions = " ".join(p["condition"] for p in pipeline["lifecycle"][0]["precondition"])
    assert 'MLFLOW_TRACKING_URI.Get, "") == "Parameters.MlflowTrackingUri"' in conditions
    assert "local.required[each.key]" in conditions and "local.declared[each.key]" in conditions
    job = typed_blocks(TERRAFORM / "modules" / "training-job", "resource")["aws_scheduler_schedule"]["training"]
    assert any("MLFLOW_TRACKING_URI" in p["condition"] for p in job["lifecycle"][0]["precondition"])


def test_image_variables_refuse_latest():
    for module, name in ((PIPELINES, "training_image_uri"), (PIPELINES, "inference_image_uri"),
                         (TERRAFORM / "modules" / "training-job", "training_image")):  # fmt: skip
        condition = blocks(module, "variable")[name]["validation"][0]["condition"]
        assert f'!endswith(var.{name}, ":latest")' in condition
    for env in ENVS:
        variables = blocks(env, "variable")
        assert "default" not in variables["training_image_uri"] and "default" not in variables["inference_image_uri"]
        assert ":latest" not in (env / "terraform.tfvars.example").read_text()


def test_eventbridge_rules_refuse_at_expressions():
    rule = typed_blocks(PIPELINES, "resource")["aws_cloudwatch_event_rule"]["this"]
    assert rule["lifecycle"][0]["precondition"][0]["condition"] == '${!startswith(each.value.schedule, "at(")}'


def test_the_deployed_definition_gets_the_role_the_vpc_and_the_extra_environment():
    definitions = blocks(PIPELINES, "locals")["definitions"]
    assert "RoleArn = aws_iam_role.execution[k].arn" in definitions
    assert "merge(p.environment, try(s.Arguments.Environment, {}))" in definitions  # the definition's own win
    assert "local.network_arguments[s.Type] ..." in definitions
    network = blocks(PIPELINES, "locals")["network_arguments"]
    assert "VpcConfig = local.vpc_config" in network["Training"]
    assert "NetworkConfig = {VpcConfig = local.vpc_config}" in network["Processing"]
    pipeline = typed_blocks(PIPELINES, "resource")["aws_sagemaker_pipeline"]["this"]
    assert pipeline["pipeline_definition"] == "${jsonencode(local.definitions[each.key])}"


# -- operations: ECR, log groups, alerts; IAM the jobs need


def test_ecr_repositories_are_immutable_scanned_expired_and_named_as_the_build_script_pushes():
    ecr = TERRAFORM / "modules" / "ecr"
    repository = typed_blocks(ecr, "resource")["aws_ecr_repository"]["this"]
    assert repository["image_tag_mutability"] == "IMMUTABLE"
    assert repository["image_scanning_configuration"][0]["scan_on_push"] is True
    assert repository["encryption_configuration"][0]["encryption_type"] == "KMS"
    assert blocks(ecr, "locals")["repositories"] == (
        '${{for name in var.repository_names : name => "${var.project_name}-${var.environment}-${name}"}}'
    )
    assert 'repository="${project}-${environment}-${t}"' in (ROOT / "scripts" / "build_push_ecr.sh").read_text()
    policy = typed_blocks(ecr, "resource")["aws_ecr_lifecycle_policy"]["this"]["policy"]
    assert 'tagStatus = "untagged"' in policy and 'countType = "imageCountMoreThan"' in policy
    for env in ENVS:
        assert blocks(env, "module")["ecr"]["source"] == "../../modules/ecr"


def test_failed_or_stopped_executions_alert_by_sns_and_slack():
    monitoring = TERRAFORM / "modules" / "monitoring"
    pattern = blocks(monitoring, "locals")["event_pattern"]
    assert '"SageMaker Model Building Pipeline Execution Status Change"' in pattern
    assert "currentPipelineExecutionStatus = var.alert_statuses" in pattern
    assert blocks(monitoring, "variable")["alert_statuses"]["default"] == ["Failed", "Stopped"]
    resources = typed_blocks(monitoring, "resource")
    assert set(resources["aws_cloudwatch_event_target"]) == {"sns", "slack"}
    template = resources["aws_cloudwatch_event_target"]["slack"]["input_transformer"][0]["input_template"]
    filled = re.sub(r"<(\w+)>", "x", template)
    assert set(json.loads(filled)) == {"text"}  # what a Slack incoming webhook accepts
    assert blocks(monitoring, "variable")["slack_webhook_url"]["sensitive"] is True
    topic_policy = typed_blocks(monitoring, "data")["aws_iam_policy_document"]["alerts_topic"]["statement"][0]
    assert topic_policy["condition"][0]["test"] == "ArnEquals"
    groups = blocks(monitoring, "locals")["log_groups"]
    assert "/aws/sagemaker/TrainingJobs" in groups and "/aws/sagemaker/ProcessingJobs" in groups
    assert resources["aws_cloudwatch_log_group"]["jobs"]["retention_in_days"] == "${var.log_retention_days}"
    for env in ENVS:
        call = blocks(env, "module")["monitoring"]
        assert "module.sagemaker_pipelines.training_pipeline_arn" in call["pipeline_arns"]


def _statements(module: Path, document: str) -> dict[str, dict]:
    data = typed_blocks(module, "data")["aws_iam_policy_document"][document]
    found = {s["sid"]: s for s in data.get("statement", [])}
    for dynamic in data.get("dynamic", []):
        content = dynamic["statement"]["content"][0]
        found[content["sid"]] = content
    return found


@pytest.mark.parametrize(("module", "document"), [(PIPELINES, "execution"),
                                                  (TERRAFORM / "modules" / "training-job", "job")])  # fmt: skip
def test_job_roles_can_do_what_the_jobs_do(module, document):
    statements = _statements(module, document)
    artifacts = statements["MlflowArtifacts"]
    assert {"s3:GetObject", "s3:PutObject"} <= set(artifacts["actions"])
    assert artifacts["resources"] == ["${var.mlflow_artifact_bucket_arn}/*"]
    assert statements["JobMetrics"]["actions"] == ["cloudwatch:PutMetricData"]
    assert statements["JobNetworkInterfaces"]["condition"][0]["test"] == "ArnEqualsIfExists"  # see test_iam_policies
    assert statements["InterfacePermissionsInSubnets"]["condition"][0]["variable"] == "ec2:Subnet"
    assert statements["DescribeNetwork"]["actions"][0].startswith("ec2:Describe")
    assert "sagemaker-mlflow:*" in statements["MlflowTracking"]["actions"]


# -- the retrain step (issue 21): it starts the training pipeline, and may do nothing else new


def test_the_retrain_step_may_start_the_training_pipeline_and_nothing_else():
    from mlplatform.sagemaker.definitions import RETRAIN_STEP

    document = typed_blocks(PIPELINES, "data")["aws_iam_policy_document"]["execution"]
    dynamics = {d["statement"]["content"][0]["sid"]: d["statement"] for d in document["dynamic"]}
    grant = dynamics["StartTrainingPipeline"]
    assert grant["for_each"] == '${each.key == "processing" && local.retrain ? [1] : []}'  # the inference role only
    assert grant["content"][0]["actions"] == ["sagemaker:StartPipelineExecution"]
    assert grant["content"][0]["resources"] == ['${aws_sagemaker_pipeline.this["training"].arn}']
    assert "condition" not in grant["content"][0]
    others = [a for sid, s in _statements(PIPELINES, "execution").items() if sid != "StartTrainingPipeline"
              for a in s["actions"]]  # fmt: skip
    assert not [a for a in others if "Pipeline" in a], "no other pipeline action for the job roles"
    local = blocks(PIPELINES, "locals")
    assert local["retrain"] == (
        "${var.retrain_on_evidence && var.enable_training_pipeline && var.enable_processing_pipeline}"
    )
    assert local["retrain_step"] == RETRAIN_STEP  # the name the module removes when it is off
    assert "if local.retrain || s.Name != local.retrain_step]" in local["definitions"]
    processing = local["pipelines"]["processing"]
    assert processing["reads"].endswith("local.retrain ? [local.labels, local.monitoring] : [])}")
    assert processing["writes"].endswith("local.retrain ? [local.monitoring] : [])}")
    assert blocks(PIPELINES, "variable")["retrain_on_evidence"]["default"] is True
    for env in ENVS:
        assert blocks(env, "module")["sagemaker_pipelines"]["retrain_on_evidence"] == "${var.retrain_on_evidence}"


@pytest.mark.parametrize("paths", [{}, {"input_data_s3_path": "s3://iris-ml-staging/iris/snapshots/",
                                        "model_output_s3_path": "s3://iris-ml-staging/iris/registry"}])  # fmt: skip
def test_the_retrain_step_gets_what_the_training_schedule_sends(paths):
    """The training execution the retrain step starts runs with the training schedule's values."""
    from mlplatform.sagemaker.definitions import FORWARDED_TO_TRAINING
    from tests.support.terraform import Evaluator

    sent = schedule_parameters(SAMPLE_INPUTS | paths)
    assert set(sent["training"]) == {"LogicalDate", *FORWARDED_TO_TRAINING}
    assert {name: sent["processing"][name] for name in FORWARDED_TO_TRAINING} == {
        name: sent["training"][name] for name in FORWARDED_TO_TRAINING
    }
    pipeline = typed_blocks(PIPELINES, "resource")["aws_sagemaker_pipeline"]["this"]
    assert pipeline["pipeline_name"] == "${local.name}-${each.key}"
    name = Evaluator(PIPELINES, SAMPLE_INPUTS).local("name")
    assert sent["processing"]["TrainingPipelineName"] == f"{name}-training" == "iris-staging-training"
