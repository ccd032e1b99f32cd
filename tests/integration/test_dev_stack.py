"""`mlplatform dev` end to end, as the README's "Try the full stack locally" does it: start the
stack, train and score to S3 through it, read the topic back with kcat, stop it, nothing left."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))
DATE = "2026-11-20"


def children_of(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_the_local_stack_runs_train_score_publish_and_stops_clean(tmp_path):
    home = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLATFORM_", "MLFLOW_", "KAFKA_", "AWS_"))}
    env |= {"MLPLATFORM_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true", "MLPLATFORM_ACTOR": "pytest"}
    stack = subprocess.Popen([MLPLATFORM, "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    env_file = home / "dev" / "dev.env"
    try:
        deadline = time.monotonic() + 180
        while not env_file.exists() and time.monotonic() < deadline:
            assert stack.poll() is None, stack.communicate()
            time.sleep(0.5)
        exports = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines())
        assert exports["MLPLATFORM_INFERENCE__DATA_ROOT"] == "s3://mlplatform-data/ml"
        servers = children_of(stack.pid)
        assert len(servers) == 3  # moto, the Kafka broker, MLflow

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            result = subprocess.run([MLPLATFORM, *args], env=env | exports, capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stdout + result.stderr
            return result

        run("train", "-p", "n_estimators=10")
        checked = run("check")
        assert "WARNING" not in checked.stderr
        run("score", "--rows", "200", "--date", DATE)
        import boto3

        s3 = boto3.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="local-stack", aws_secret_access_key="local-stack")  # fmt: skip
        key = f"ml/iris/inference-output/model=iris-model/date={DATE}/_SUCCESS"
        assert json.loads(s3.get_object(Bucket="mlplatform-data", Key=key)["Body"].read())["rows"] == 200
        kcat = shutil.which("kcat") or shutil.which("kafkacat")
        if kcat is None:
            pytest.fail("kcat is not installed: make test-tools installs it")
        consumed = subprocess.run(
            [kcat, "-C", "-b", exports["KAFKA_BOOTSTRAP_SERVERS"], "-t", "ml-predictions", "-e", "-q", "-f", "%k\\n"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert len(set(consumed.stdout.split())) == 200
        events = subprocess.run(
            [kcat, "-C", "-b", exports["KAFKA_BOOTSTRAP_SERVERS"], "-t", "mlplatform-events", "-e", "-q"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        types = [json.loads(line)["type"] for line in events.stdout.splitlines() if line.strip()]
        assert "version_registered" in types and "scoring_committed" in types
    finally:
        stack.send_signal(signal.SIGINT)
        _, err = stack.communicate(timeout=60)
    assert stack.returncode == 0, err
    assert "Stack stopped." in err
    assert [pid for pid in servers if alive(pid)] == []
