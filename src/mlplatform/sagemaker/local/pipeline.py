"""A definition's steps run in order: parameters and wiring checked before anything starts, each
step's expressions resolved and its job request validated, RetryPolicies applied."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlplatform.clients import Clients
from mlplatform.errors import ConfigError
from mlplatform.sagemaker.definitions import check_wiring
from mlplatform.sagemaker.expressions import Scope, as_strings, parameter_values, resolve
from mlplatform.sagemaker.local.channels import S3Channels
from mlplatform.sagemaker.local.jobs import run_processing_job, run_training_job
from mlplatform.sagemaker.local.records import Execution, Job, StepFailure, StepRecord
from mlplatform.sagemaker.validation import OPERATIONS, validate_job_request, validate_step_arguments

# The images' ENV (docker/*.Dockerfile), which the job would see besides the step's Environment.
IMAGE_ENVIRONMENT = {"PYTHONUNBUFFERED": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
# Variables of this shell a job may see: credentials and endpoints stand in for the execution role.
PASSED_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT",
    "MLFLOW_S3_ENDPOINT_URL",
)
PASSED_THROUGH_PREFIXES = ("AWS_",)


class LocalPipeline:
    """Executes a definition's steps in order; see the package docstring for what is emulated."""

    def __init__(
        self,
        definition: dict[str, Any],
        pipeline_name: str,
        given: Mapping[str, str],
        workdir: Path,
        *,
        clients: Clients | None = None,
        config_dir: Path | None = None,
        pass_env: tuple[str, ...] = (),
        sleep: Callable[[float], None] = time.sleep,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.definition = definition
        self.pipeline_name = pipeline_name
        self.workdir = workdir
        self.clients = clients or Clients()
        self.s3 = S3Channels(self.clients)
        self.config_dir = config_dir
        self.pass_env = pass_env
        self.sleep = sleep
        self.echo = echo or (lambda line: sys.stderr.write(line + "\n"))
        # Everything that can be refused is refused here, before anything runs.
        earlier: set[str] = set()
        for step in definition.get("Steps", []):
            if step.get("Type") not in OPERATIONS:
                raise ConfigError(
                    f"step {step.get('Name')} is a {step.get('Type')} step, which run-local does not run",
                    "run-local runs Training and Processing steps",
                )
            # Steps run in their listed order, each after the previous one succeeded: that honours
            # DependsOn only when every step it names comes earlier.
            later = [name for name in step.get("DependsOn", []) if name not in earlier]
            if later:
                raise ConfigError(
                    f"step {step['Name']} depends on {later[0]}, which is not listed before it",
                    "list the steps in dependency order (run-local runs them in order)",
                )
            earlier.add(step["Name"])
        self.values = parameter_values(definition, given)
        check_wiring(definition, self.values)
        problems = validate_step_arguments(definition)
        if problems:
            raise ConfigError(f"the definition is invalid: {problems[0]}", "re-render it (make docs)")

    def run(self) -> Execution:
        execution_id = uuid.uuid4().hex[:12]
        execution = Execution(self.pipeline_name, execution_id, self.workdir / execution_id)
        arn = f"arn:aws:sagemaker:{self.clients.region}:000000000000:pipeline/{self.pipeline_name}"
        started = execution.start.isoformat()
        scope = Scope(
            self.values,
            {
                "PipelineExecutionId": execution_id,
                "PipelineName": self.pipeline_name,
                "PipelineExecutionArn": f"{arn}/execution/{execution_id}",
                "StartDateTime": started,
                "CurrentDateTime": started,
            },
        )
        for step in self.definition["Steps"]:
            record = StepRecord(step["Name"], step["Type"])
            execution.steps.append(record)
            self._run_step(step, record, scope, execution)
            if record.status != "Succeeded":
                break
            scope.steps[record.name] = record.properties
        execution.status = "Failed" if execution.failed_step else "Succeeded"
        execution.end = datetime.now(UTC)
        (execution.workdir / "execution.json").write_text(json.dumps(execution.as_api(self.clients.region), indent=2))
        return execution

    def _run_step(self, step: dict[str, Any], record: StepRecord, scope: Scope, execution: Execution) -> None:
        execution.workdir.mkdir(parents=True, exist_ok=True)
        try:
            arguments = resolve(step["Arguments"], scope)
        except ConfigError as exc:
            record.finish("Failed", f"ClientError: {exc.headline}")
            return
        _, name_key = OPERATIONS[step["Type"]]
        record.job_name = f"pipelines-{execution.execution_id}-{step['Name']}-{uuid.uuid4().hex[:6]}"[:63]
        request = {name_key: record.job_name, **arguments}
        problems = validate_job_request(step["Type"], request, step["Name"])
        if problems:
            record.finish("Failed", f"ValidationException: {problems[0]}")
            return
        job = Job(
            record.job_name,
            step["Name"],
            request,
            execution.workdir / record.job_name,
            self._environment(arguments.get("Environment", {})),
            float(arguments["StoppingCondition"]["MaxRuntimeInSeconds"]),
        )
        run_job = run_training_job if step["Type"] == "Training" else run_processing_job
        self._with_retries(step, record, lambda: run_job(job, self.s3, self.echo))

    def _with_retries(self, step: dict[str, Any], record: StepRecord, attempt: Callable[[], dict[str, Any]]) -> None:
        """RetryPolicies as SageMaker applies them: a failure whose type a policy names is retried
        after IntervalSeconds x BackoffRate^(n-1), at most MaxAttempts times, within ExpireAfterMin."""
        started = time.monotonic()
        retries: dict[int, int] = {}
        while True:
            record.attempts += 1
            try:
                record.properties = attempt()
                record.job_status = "Completed"
                record.finish("Succeeded")
                return
            except StepFailure as failure:
                record.job_status = failure.status
                index, policy = _policy_for(step.get("RetryPolicies", []), failure.kind)
                used = retries.get(index, 0)
                expired = "ExpireAfterMin" in policy and time.monotonic() - started > policy["ExpireAfterMin"] * 60
                if policy and used < int(policy.get("MaxAttempts", 1)) and not expired:
                    retries[index] = used + 1
                    delay = float(policy.get("IntervalSeconds", 1)) * float(policy.get("BackoffRate", 2.0)) ** used
                    self.echo(f"[{record.name}] {failure.kind}: {failure.reason}; retry {used + 1} in {delay:g}s")
                    self.sleep(delay)
                    continue
                record.finish("Failed", failure.reason)
                return

    def _environment(self, step_environment: Mapping[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in PASSED_THROUGH or k.startswith(PASSED_THROUGH_PREFIXES)}
        env |= {k: os.environ[k] for k in self.pass_env if k in os.environ}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
        env |= IMAGE_ENVIRONMENT
        if self.config_dir is not None:
            env["MLPLATFORM_CONFIG_DIR"] = str(self.config_dir.resolve())  # the image's /app/config
        return env | as_strings(step_environment)


def _policy_for(policies: list[dict[str, Any]], kind: str) -> tuple[int, dict[str, Any]]:
    for index, policy in enumerate(policies):
        if kind in policy.get("ExceptionType", []):
            return index, policy
    return -1, {}
