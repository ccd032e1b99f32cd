"""`mlplatform dev`: the services of a deployment, on loopback, for trying everything locally — an
MLflow tracking server (SQLite store, artifacts in a folder), an S3 API server (moto in server
mode) with the data bucket made, and a Kafka-protocol broker (librdkafka's mock cluster, the test
broker). The environment that points mlplatform at them is printed as `export` lines; every
process started here is stopped when the stack stops."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlplatform.clients import Clients
from mlplatform.errors import ConfigError, PipelineError
from mlplatform.locks import die_with

BUCKET = "mlplatform-data"
TOPICS = {"ml-predictions": 8, "mlplatform-events": 1}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local-stack", "AWS_SECRET_ACCESS_KEY": "local-stack", "AWS_REGION": "us-east-1"}


@dataclass
class Stack:
    """What is running and how to reach it."""

    folder: Path
    mlflow_uri: str = ""
    s3_endpoint: str = ""
    kafka_bootstrap: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_URI": self.mlflow_uri,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "KAFKA_TOPIC": "ml-predictions",
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            **CREDENTIALS,
            "MLPLATFORM_INFERENCE__DATA_ROOT": f"s3://{BUCKET}/ml",
            "MLPLATFORM_EVENTS__KAFKA_TOPIC": "mlplatform-events",
        }

    def exports(self) -> str:
        return "".join(f"export {name}={value}\n" for name, value in self.environment().items())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_stack(folder: Path) -> Iterator[Stack]:
    """Start every service (MLflow last: it takes longest), yield, then stop them all."""
    try:
        import moto.server  # noqa: F401 - checked before anything starts
    except ImportError:
        raise ConfigError(
            "the local stack needs moto's S3 server, which is not installed",
            "install the stack extra: uv sync --extra stack (make does)",
        ) from None
    folder.mkdir(parents=True, exist_ok=True)
    stack = Stack(folder)
    try:
        stack.s3_endpoint = _start_s3(stack)
        stack.kafka_bootstrap = _start_kafka(stack)
        stack.mlflow_uri = _start_mlflow(stack)
        yield stack
    finally:
        for process in reversed(stack.processes):
            stop_process(process)


def _start_s3(stack: Stack) -> str:
    port = free_port()
    log = open(stack.folder / "s3.log", "wb")  # noqa: SIM115 - the server's log, open while it runs
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with(os.getpid()),  # noqa: PLW1509 - gone with `mlplatform dev`, even after kill -9
    )
    stack.processes.append(process)
    endpoint = f"http://127.0.0.1:{port}"
    _wait_http(f"{endpoint}/moto-api/", process, stack.folder / "s3.log", 30)
    os.environ.update(CREDENTIALS)  # this process talks to the stack as the printed environment will
    Clients(s3_endpoint=endpoint).boto3("s3").create_bucket(Bucket=BUCKET)
    return endpoint


def _start_kafka(stack: Stack) -> str:
    args = [sys.executable, "-m", "mlplatform.devstack.kafka_broker"]
    for name, partitions in TOPICS.items():
        args += ["--topic", f"{name}:{partitions}"]
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with(os.getpid()),  # noqa: PLW1509 - the hook only calls prctl
    )
    stack.processes.append(process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode() if process.stdout else ""
        if line.startswith("BOOTSTRAP"):
            return line.split()[1]
        if not line and process.poll() is not None:
            break
    raise PipelineError(
        "the Kafka broker did not start", "see the output of: python -m mlplatform.devstack.kafka_broker"
    )


def _start_mlflow(stack: Stack) -> str:
    port = free_port()
    log_path = stack.folder / "mlflow.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the server's log, open while it runs
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--backend-store-uri", f"sqlite:///{stack.folder / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(stack.folder / "mlflow-artifacts")]
    # no job runner: the stack runs no MLflow jobs, and it saves six processes
    env = os.environ | {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        preexec_fn=die_with(os.getpid()),  # noqa: PLW1509 - the hook only calls prctl
    )
    stack.processes.append(process)
    uri = f"http://127.0.0.1:{port}"
    _wait_http(f"{uri}/health", process, log_path, 120)
    return uri


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PipelineError(f"{url} exited with code {process.returncode}", f"see {log}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.3)
    raise PipelineError(f"{url} did not answer within {timeout:g}s", f"see {log}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process group (a server and its workers): SIGTERM, then SIGKILL."""
    import signal

    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
