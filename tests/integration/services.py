"""Start real local services for tests: each on 127.0.0.1, a free port, stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from mlplatform.devstack.stack import free_port
from mlplatform.devstack.stack import stop_process as stop


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def mlflow_server(
    workdir: Path, artifacts: list[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`mlflow server` with a temp SQLite store; its schema is created once, by the server alone.

    `artifacts` replaces the default (artifacts proxied by the server into `workdir`), e.g. with
    an s3:// root and --no-serve-artifacts, which is how SageMaker managed MLflow stores them.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "mlflow-server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'server.db'}",
        *(artifacts or ["--artifacts-destination", str(workdir / "artifacts")]),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # no job runner (six huey consumer processes per server): nothing here runs MLflow jobs
    quiet = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env = os.environ | (env or {}) | quiet
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{uri}/health", process, log, timeout=90)
        yield uri
    finally:
        stop(process)
