"""Run a SageMaker pipeline definition on this machine the way SageMaker runs it, without Docker.

The exact JSON Terraform deploys is executed: parameters resolved (defaults, then the values
given, as StartPipelineExecution does) and checked for wiring before anything starts; each step's
`Get` / `Std:Join` expressions resolved; the resolved job request validated against botocore's
CreateTrainingJob / CreateProcessingJob shapes; then the job itself:

- Training: `/opt/ml` laid out in a work folder (hyperparameters.json with string values,
  resourceconfig.json, inputdataconfig.json, every channel downloaded from S3), the container's
  entrypoint run as a process with the step's Environment, `/opt/ml/model` uploaded as
  `<S3OutputPath>/<job>/output/model.tar.gz`, the failure file read into the FailureReason.
- Processing: one process per instance (`algo-1..N`, each with its own resourceconfig.json),
  inputs downloaded (ShardedByS3Key: each host a share of the objects), outputs uploaded at the
  end of the job, the exit message read from `/opt/ml/output/message`.

Step timeouts (`StoppingCondition.MaxRuntimeInSeconds`) stop the processes; RetryPolicies retry
the failures they name. S3 is whatever the AWS SDK points at (`AWS_ENDPOINT_URL` for a local
server); the job sees the step's environment plus the caller's AWS credentials and endpoints,
standing in for the execution role — nothing else leaks in from this shell.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mlplatform.clients import Clients
from mlplatform.errors import ConfigError
from mlplatform.sagemaker.definitions import check_wiring
from mlplatform.sagemaker.expressions import Scope, as_strings, parameter_values, resolve
from mlplatform.sagemaker.validation import OPERATIONS, validate_job_request, validate_step_arguments

log = logging.getLogger(__name__)

OPT_ML = "/opt/ml"
# The images' ENV (docker/*.Dockerfile), which the job would see besides the step's Environment.
IMAGE_ENVIRONMENT = {"PYTHONUNBUFFERED": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
# Variables of this shell a job may see: credentials and endpoints stand in for the execution role.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT",
                  "MLFLOW_S3_ENDPOINT_URL")  # fmt: skip
PASSED_THROUGH_PREFIXES = ("AWS_",)
STOP_GRACE_S = 5.0
# S3 error codes SageMaker would see as its own service trouble (retried by Step.* policies).
_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}


class StepFailure(Exception):
    """A job that did not complete: `kind` is what RetryPolicies match (Step.SERVICE_FAULT, ...)."""

    def __init__(self, kind: str, reason: str, status: str = "Failed") -> None:
        super().__init__(reason)
        self.kind, self.reason, self.status = kind, reason, status


@dataclass
class StepRecord:
    """One row of `list-pipeline-execution-steps`."""

    name: str
    type: str
    status: str = "Executing"
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    attempts: int = 0
    job_name: str = ""
    job_status: str = ""
    failure_reason: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def as_api(self) -> dict[str, Any]:
        kind = "TrainingJob" if self.type == "Training" else "ProcessingJob"
        step: dict[str, Any] = {
            "StepName": self.name,
            "StepStatus": self.status,
            "StartTime": self.start.isoformat(),
            "EndTime": self.end.isoformat() if self.end else None,
            "AttemptCount": self.attempts,
            "Metadata": {kind: {"Arn": _job_arn(self.job_name, self.type.lower())}} if self.job_name else {},
        }
        if self.failure_reason:
            step["FailureReason"] = self.failure_reason
        return step


@dataclass
class Execution:
    pipeline_name: str
    execution_id: str
    workdir: Path
    status: str = "Executing"
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def failed_step(self) -> StepRecord | None:
        return next((s for s in self.steps if s.status == "Failed"), None)

    def as_api(self, region: str) -> dict[str, Any]:
        """The shape of describe-pipeline-execution plus list-pipeline-execution-steps."""
        return {
            "PipelineExecutionArn": f"arn:aws:sagemaker:{region}:000000000000:pipeline/{self.pipeline_name}"
            f"/execution/{self.execution_id}",
            "PipelineExecutionStatus": self.status,
            "CreationTime": self.start.isoformat(),
            "LastModifiedTime": (self.end or self.start).isoformat(),
            "PipelineExecutionSteps": [s.as_api() for s in reversed(self.steps)],
            "LocalWorkDir": str(self.workdir),
        }


@dataclass
class Job:
    """One job of a step: its request, where its hosts live, and how its processes start."""

    name: str
    step: str
    request: dict[str, Any]
    root: Path
    environment: dict[str, str]
    max_runtime_s: float


class LocalPipeline:
    """Executes a definition's steps in order; see the module docstring for what is emulated."""

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
        self.config_dir = config_dir
        self.pass_env = pass_env
        self.sleep = sleep
        self.echo = echo or (lambda line: sys.stderr.write(line + "\n"))
        # Everything that can be refused is refused here, before anything runs.
        for step in definition.get("Steps", []):
            if step.get("Type") not in OPERATIONS:
                raise ConfigError(
                    f"step {step.get('Name')} is a {step.get('Type')} step, which run-local does not run",
                    "run-local runs Training and Processing steps",
                )
        self.values = parameter_values(definition, given)
        check_wiring(definition, self.values)
        problems = validate_step_arguments(definition)
        if problems:
            raise ConfigError(f"the definition is invalid: {problems[0]}", "re-render it (make docs)")

    def run(self) -> Execution:
        execution_id = uuid.uuid4().hex[:12]
        execution = Execution(self.pipeline_name, execution_id, self.workdir / execution_id)
        scope = Scope(
            self.values,
            {
                "PipelineExecutionId": execution_id,
                "PipelineName": self.pipeline_name,
                "PipelineExecutionArn": f"arn:aws:sagemaker:{self.clients.region}:000000000000:pipeline/"
                f"{self.pipeline_name}/execution/{execution_id}",
                "StartDateTime": execution.start.isoformat(),
                "CurrentDateTime": execution.start.isoformat(),
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
            _finish(record, "Failed", f"ClientError: {exc.headline}")
            return
        _, name_key = OPERATIONS[step["Type"]]
        record.job_name = f"pipelines-{execution.execution_id}-{step['Name']}-{uuid.uuid4().hex[:6]}"[:63]
        request = {name_key: record.job_name, **arguments}
        problems = validate_job_request(step["Type"], request, step["Name"])
        if problems:
            _finish(record, "Failed", f"ValidationException: {problems[0]}")
            return
        job = Job(
            record.job_name,
            step["Name"],
            request,
            execution.workdir / record.job_name,
            self._environment(arguments.get("Environment", {})),
            float(arguments["StoppingCondition"]["MaxRuntimeInSeconds"]),
        )
        attempt = self._train if step["Type"] == "Training" else self._process
        self._with_retries(step, record, lambda: attempt(job))

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
                _finish(record, "Succeeded")
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
                _finish(record, "Failed", failure.reason)
                return

    def _environment(self, step_environment: Mapping[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in PASSED_THROUGH or k.startswith(PASSED_THROUGH_PREFIXES)}
        env |= {k: os.environ[k] for k in self.pass_env if k in os.environ}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
        env |= IMAGE_ENVIRONMENT
        if self.config_dir is not None:
            env["MLPLATFORM_CONFIG_DIR"] = str(self.config_dir.resolve())  # the image's /app/config
        return env | as_strings(step_environment)

    # -- training jobs

    def _train(self, job: Job) -> dict[str, Any]:
        request = job.request
        resources = request["ResourceConfig"]
        if int(resources["InstanceCount"]) != 1:
            raise StepFailure("ClientError", "ClientError: run-local runs training jobs on one instance")
        host = _fresh(job.root / "algo-1")
        config = host / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(as_strings(request.get("HyperParameters", {}))))
        (config / "resourceconfig.json").write_text(json.dumps({
            "current_host": "algo-1", "hosts": ["algo-1"], "current_group_name": "homogeneousCluster",
            "current_instance_type": resources["InstanceType"], "network_interface_name": "eth0",
            "instance_groups": [{"instance_group_name": "homogeneousCluster", "hosts": ["algo-1"],
                                 "instance_type": resources["InstanceType"]}],
        }))  # fmt: skip
        channels = {c["ChannelName"]: c for c in request.get("InputDataConfig", [])}
        mode = request["AlgorithmSpecification"].get("TrainingInputMode", "File")
        (config / "inputdataconfig.json").write_text(json.dumps({
            name: {"TrainingInputMode": mode, "RecordWrapperType": c.get("RecordWrapperType", "None"),
                   "S3DistributionType": c["DataSource"]["S3DataSource"].get("S3DataDistributionType")}
            for name, c in channels.items()
        }))  # fmt: skip
        for name, channel in channels.items():
            keys = self._objects(channel["DataSource"]["S3DataSource"])
            self._download(channel["DataSource"]["S3DataSource"]["S3Uri"], keys, host / "input" / "data" / name)
        for folder in ("model", "output/data", "output/intermediate"):
            (host / folder).mkdir(parents=True, exist_ok=True)
        spec = request["AlgorithmSpecification"]
        command = _command(spec.get("ContainerEntrypoint"), spec.get("ContainerArguments"))
        env = job.environment | {"TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": _job_arn(job.name, "training")}
        codes = self._run_hosts(job, {"algo-1": host}, command, env)
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{job.name}/output"
        if codes["algo-1"] != 0:
            reason = _read(host / "output" / "failure") or f"exit code {codes['algo-1']}"
            raise StepFailure("AlgorithmError", f"AlgorithmError: {reason}")
        model_uri = f"{output}/model.tar.gz"
        self._upload_tar(host / "model", model_uri)
        if any((host / "output" / "data").iterdir()):
            self._upload_tar(host / "output" / "data", f"{output}/output.tar.gz")
        return {
            "TrainingJobName": job.name,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": model_uri},
            "OutputDataConfig": {"S3OutputPath": request["OutputDataConfig"]["S3OutputPath"]},
        }

    # -- processing jobs

    def _process(self, job: Job) -> dict[str, Any]:
        request = job.request
        count = int(request["ProcessingResources"]["ClusterConfig"]["InstanceCount"])
        names = [f"algo-{i}" for i in range(1, count + 1)]
        hosts = {name: _fresh(job.root / name) for name in names}
        for name, host in hosts.items():
            (host / "config").mkdir(parents=True)
            (host / "config" / "resourceconfig.json").write_text(json.dumps({"current_host": name, "hosts": names}))
            (host / "config" / "processingjobconfig.json").write_text(json.dumps(request, default=str))
        for item in request.get("ProcessingInputs", []):
            self._processing_input(item, hosts)
        for output in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
            for host in hosts.values():
                _local(host, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        spec = request["AppSpecification"]
        command = _command(spec.get("ContainerEntrypoint"), spec.get("ContainerArguments"))
        codes = self._run_hosts(job, hosts, command, job.environment)
        failed = [name for name in names if codes[name] != 0]
        if failed:
            message = _read(hosts[failed[0]] / "output" / "message") or f"exit code {codes[failed[0]]}"
            raise StepFailure("AlgorithmError", f"AlgorithmError: {message} ({failed[0]})")
        outputs: dict[str, Any] = {}
        for output in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
            s3 = output["S3Output"]
            for host in hosts.values():
                self._upload_folder(_local(host, s3["LocalPath"]), s3["S3Uri"])
            outputs[output["OutputName"]] = {"S3Output": {"S3Uri": s3["S3Uri"]}}
        return {
            "ProcessingJobName": job.name,
            "ProcessingJobStatus": "Completed",
            "ProcessingOutputConfig": {"Outputs": outputs},
        }

    def _processing_input(self, item: dict[str, Any], hosts: dict[str, Path]) -> None:
        source = item.get("S3Input")
        if source is None:
            raise StepFailure("ClientError", f"ClientError: input {item.get('InputName')} is not an S3Input")
        if source.get("S3InputMode", "File") != "File" or source.get("S3CompressionType", "None") != "None":
            raise StepFailure("ClientError", "ClientError: run-local reads File-mode, uncompressed inputs only")
        keys = self._objects(source)
        for index, host in enumerate(hosts.values()):
            share = keys[index :: len(hosts)] if source.get("S3DataDistributionType") == "ShardedByS3Key" else keys
            self._download(source["S3Uri"], share, _local(host, source["LocalPath"]))

    # -- processes

    def _run_hosts(self, job: Job, hosts: dict[str, Path], command: list[str], env: dict[str, str]) -> dict[str, int]:
        """Start one process per host, stream their output, stop them all at the job's limit."""
        processes: dict[str, subprocess.Popen[str]] = {}
        readers = []
        for name, host in hosts.items():
            log_file = open(host / "logs.txt", "w")  # noqa: SIM115 - closed after the process ends
            try:
                process = subprocess.Popen(
                    command, cwd=host, env=env | {"MLPLATFORM_SAGEMAKER_ROOT": str(host)}, text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            except OSError as exc:
                log_file.close()
                self._stop(processes)
                raise StepFailure("ClientError", f"ClientError: cannot start {command[0]}: {exc.strerror}") from None
            processes[name] = process
            prefix = f"[{job.step}/{name}]"
            reader = threading.Thread(target=self._pump, args=(process.stdout, log_file, prefix), daemon=True)
            reader.start()
            readers.append(reader)
        deadline = time.monotonic() + job.max_runtime_s
        codes: dict[str, int] = {}
        try:
            for name, process in processes.items():
                codes[name] = process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            self._stop(processes)
            raise StepFailure(
                "MaxRuntimeExceeded",
                f"MaxRuntimeExceeded: the job ran past MaxRuntimeInSeconds={job.max_runtime_s:g} and was stopped",
                status="Stopped",
            ) from None
        finally:
            for reader in readers:
                reader.join(timeout=5)
        return codes

    def _pump(self, stream: IO[str] | None, log_file: IO[str], prefix: str) -> None:
        with log_file:
            for line in stream or []:
                log_file.write(line)
                self.echo(f"{prefix} {line.rstrip()}")

    @staticmethod
    def _stop(processes: dict[str, subprocess.Popen[str]]) -> None:
        """SIGTERM to each process group, then SIGKILL after the grace period (SageMaker: 120 s)."""
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    # -- S3

    def _s3_call(self, what: str, call: Callable[[], Any]) -> Any:
        """An S3 call; failures become StepFailures of the kind SageMaker would report."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in _THROTTLING:
                raise StepFailure("Step.THROTTLING", f"ThrottlingException: {what}: {code}") from None
            if status >= 500:
                raise StepFailure("Step.SERVICE_FAULT", f"InternalServerError: {what}: {code}") from None
            raise StepFailure("ClientError", f"ClientError: {what}: {code or exc}") from None
        except BotoCoreError as exc:
            raise StepFailure("Step.SERVICE_FAULT", f"InternalServerError: {what}: {type(exc).__name__}") from None

    def _objects(self, source: dict[str, Any]) -> list[str]:
        """Keys under an S3Prefix in key order; an empty prefix fails as SageMaker fails it."""
        uri = source["S3Uri"]
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise StepFailure("ClientError", f"ClientError: run-local reads S3Prefix inputs only ({uri})")
        bucket, prefix = _split(uri)
        paginator = self.clients.boto3("s3").get_paginator("list_objects_v2")

        def list_keys() -> list[str]:
            pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/"))

        keys = self._s3_call(f"listing {uri}", list_keys)
        if not keys:
            raise StepFailure("ClientError", f"ClientError: No S3 objects found under S3 URL {uri}")
        return keys

    def _download(self, uri: str, keys: list[str], folder: Path) -> None:
        bucket, prefix = _split(uri)
        folder.mkdir(parents=True, exist_ok=True)
        s3 = self.clients.boto3("s3")
        for key in keys:
            target = folder / _relative(key, prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._s3_call(
                f"downloading s3://{bucket}/{key}", lambda k=key, t=target: s3.download_file(bucket, k, str(t))
            )

    def _upload_folder(self, folder: Path, uri: str) -> None:
        bucket, prefix = _split(uri.rstrip("/") + "/")
        s3 = self.clients.boto3("s3")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(folder).as_posix()
            self._s3_call(f"uploading s3://{bucket}/{key}", lambda p=path, k=key: s3.upload_file(str(p), bucket, k))

    def _upload_tar(self, folder: Path, uri: str) -> None:
        archive = folder.parent / (folder.name + ".tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(folder.iterdir()):
                tar.add(path, arcname=path.name)
        bucket, key = _split(uri)
        s3 = self.clients.boto3("s3")
        self._s3_call(f"uploading {uri}", lambda: s3.upload_file(str(archive), bucket, key))


def _finish(record: StepRecord, status: str, reason: str | None = None) -> None:
    record.status, record.failure_reason, record.end = status, reason, datetime.now(UTC)


def _policy_for(policies: list[dict[str, Any]], kind: str) -> tuple[int, dict[str, Any]]:
    for index, policy in enumerate(policies):
        if kind in policy.get("ExceptionType", []):
            return index, policy
    return -1, {}


def _command(entrypoint: list[str] | None, arguments: list[Any] | None) -> list[str]:
    """The container's command. Without ContainerEntrypoint the image's ENTRYPOINT runs, which
    run-local cannot read from a local folder: the definitions set it."""
    if not entrypoint:
        raise StepFailure("ClientError", "ClientError: run-local needs the step's ContainerEntrypoint")
    program = shutil.which(entrypoint[0], path=os.pathsep.join([str(Path(sys.executable).parent), os.defpath,
                                                                os.environ.get("PATH", "")]))  # fmt: skip
    if program is None:
        raise StepFailure("ClientError", f"ClientError: entrypoint {entrypoint[0]} is not installed here")
    return [program, *entrypoint[1:], *[str(a) for a in arguments or []]]


def _relative(key: str, prefix: str) -> str:
    """Where an object lands under LocalPath: its key below the prefix (a prefix that ends in the
    middle of a name keeps the object's own name)."""
    rest = key[len(prefix) :]
    if prefix and not prefix.endswith("/") and not rest.startswith("/"):
        rest = key[prefix.rfind("/") + 1 :]
    return rest.lstrip("/") or Path(key).name


def _job_arn(name: str, kind: str) -> str:
    return f"arn:aws:sagemaker:local:000000000000:{kind}-job/{name}"


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)  # a retried attempt starts from a clean instance
    folder.mkdir(parents=True)
    return folder


def _local(host: Path, container_path: str) -> Path:
    if not container_path.startswith(OPT_ML + "/"):
        raise StepFailure("ClientError", f"ClientError: LocalPath {container_path} is not under {OPT_ML}")
    return host / container_path.removeprefix(OPT_ML + "/")


def _read(path: Path) -> str:
    return path.read_text(errors="replace").strip()[:1024] if path.is_file() else ""


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise StepFailure("ClientError", f"ClientError: {uri} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
