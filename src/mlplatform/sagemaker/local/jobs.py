"""A Training or Processing job as SageMaker runs it: `/opt/ml` laid out per host, channels in,
the entrypoint run, outputs out, and the job's properties (what later steps can `Get`)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlplatform.sagemaker.expressions import as_strings
from mlplatform.sagemaker.local.channels import S3Channels
from mlplatform.sagemaker.local.hosts import container_command, run_hosts
from mlplatform.sagemaker.local.records import Job, StepFailure, client_error, job_arn

OPT_ML = "/opt/ml"


def run_training_job(job: Job, s3: S3Channels, echo: Callable[[str], None]) -> dict[str, Any]:
    """One instance: hyperparameters.json (string values), resourceconfig.json,
    inputdataconfig.json, every channel downloaded; `/opt/ml/model` uploaded as
    `<S3OutputPath>/<job>/output/model.tar.gz`; the failure file read into the FailureReason."""
    request = job.request
    resources = request["ResourceConfig"]
    if int(resources["InstanceCount"]) != 1:
        raise client_error("run-local runs training jobs on one instance")
    host = _fresh(job.root / "algo-1")
    config = host / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(as_strings(request.get("HyperParameters", {}))))
    (config / "resourceconfig.json").write_text(json.dumps(_training_resources(resources["InstanceType"])))
    channels = {c["ChannelName"]: c for c in request.get("InputDataConfig", [])}
    mode = request["AlgorithmSpecification"].get("TrainingInputMode", "File")
    (config / "inputdataconfig.json").write_text(
        json.dumps({name: _channel_config(c, mode) for name, c in channels.items()})
    )
    for name, channel in channels.items():
        source = channel["DataSource"]["S3DataSource"]
        s3.download(source["S3Uri"], s3.objects(source), host / "input" / "data" / name)
    for folder in ("model", "output/data", "output/intermediate"):
        (host / folder).mkdir(parents=True, exist_ok=True)
    spec = request["AlgorithmSpecification"]
    command = container_command(spec.get("ContainerEntrypoint"), spec.get("ContainerArguments"))
    env = job.environment | {"TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": job_arn(job.name, "training")}
    codes = run_hosts(job, {"algo-1": host}, command, env, echo)
    output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{job.name}/output"
    if codes["algo-1"] != 0:
        reason = _read(host / "output" / "failure") or f"exit code {codes['algo-1']}"
        raise StepFailure("AlgorithmError", f"AlgorithmError: {reason}")
    model_uri = f"{output}/model.tar.gz"
    s3.upload_tar(host / "model", model_uri)
    if any((host / "output" / "data").iterdir()):
        s3.upload_tar(host / "output" / "data", f"{output}/output.tar.gz")
    return {
        "TrainingJobName": job.name,
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "OutputDataConfig": {"S3OutputPath": request["OutputDataConfig"]["S3OutputPath"]},
    }


def _training_resources(instance_type: str) -> dict[str, Any]:
    return {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "current_group_name": "homogeneousCluster",
        "current_instance_type": instance_type,
        "network_interface_name": "eth0",
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "hosts": ["algo-1"], "instance_type": instance_type}
        ],
    }


def _channel_config(channel: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "TrainingInputMode": mode,
        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        "S3DistributionType": channel["DataSource"]["S3DataSource"].get("S3DataDistributionType"),
    }


def run_processing_job(job: Job, s3: S3Channels, echo: Callable[[str], None]) -> dict[str, Any]:
    """One process per instance (`algo-1..N`, each with its own resourceconfig.json), inputs
    downloaded (ShardedByS3Key: each host a share), outputs uploaded at the end of the job, the
    exit message read from `/opt/ml/output/message`."""
    request = job.request
    count = int(request["ProcessingResources"]["ClusterConfig"]["InstanceCount"])
    names = [f"algo-{i}" for i in range(1, count + 1)]
    hosts = {name: _fresh(job.root / name) for name in names}
    for name, host in hosts.items():
        (host / "config").mkdir(parents=True)
        (host / "config" / "resourceconfig.json").write_text(json.dumps({"current_host": name, "hosts": names}))
        (host / "config" / "processingjobconfig.json").write_text(json.dumps(request, default=str))
    for item in request.get("ProcessingInputs", []):
        _processing_input(item, hosts, s3)
    outputs = request.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for output in outputs:
        for host in hosts.values():
            _local(host, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    spec = request["AppSpecification"]
    command = container_command(spec.get("ContainerEntrypoint"), spec.get("ContainerArguments"))
    codes = run_hosts(job, hosts, command, job.environment, echo)
    failed = [name for name in names if codes[name] != 0]
    if failed:
        message = _read(hosts[failed[0]] / "output" / "message") or f"exit code {codes[failed[0]]}"
        raise StepFailure("AlgorithmError", f"AlgorithmError: {message} ({failed[0]})")
    collected: dict[str, Any] = {}
    for output in outputs:
        target = output["S3Output"]
        for host in hosts.values():
            s3.upload_folder(_local(host, target["LocalPath"]), target["S3Uri"])
        collected[output["OutputName"]] = {"S3Output": {"S3Uri": target["S3Uri"]}}
    return {
        "ProcessingJobName": job.name,
        "ProcessingJobStatus": "Completed",
        "ProcessingOutputConfig": {"Outputs": collected},
    }


def _processing_input(item: dict[str, Any], hosts: dict[str, Path], s3: S3Channels) -> None:
    source = item.get("S3Input")
    if source is None:
        raise client_error(f"input {item.get('InputName')} is not an S3Input")
    if source.get("S3InputMode", "File") != "File" or source.get("S3CompressionType", "None") != "None":
        raise client_error("run-local reads File-mode, uncompressed inputs only")
    keys = s3.objects(source)
    for index, host in enumerate(hosts.values()):
        share = keys[index :: len(hosts)] if source.get("S3DataDistributionType") == "ShardedByS3Key" else keys
        s3.download(source["S3Uri"], share, _local(host, source["LocalPath"]))


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)  # a retried attempt starts from a clean instance
    folder.mkdir(parents=True)
    return folder


def _local(host: Path, container_path: str) -> Path:
    if not container_path.startswith(OPT_ML + "/"):
        raise client_error(f"LocalPath {container_path} is not under {OPT_ML}")
    return host / container_path.removeprefix(OPT_ML + "/")


def _read(path: Path) -> str:
    return path.read_text(errors="replace").strip()[:1024] if path.is_file() else ""
