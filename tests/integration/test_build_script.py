"""scripts/build_push_ecr.sh with ECR's immutable tags and the image's uid, against recording
stubs of `aws` and `docker` (no Docker engine or AWS account here)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.integration.test_containers import DOCKERFILES, ROOT, stub


@pytest.fixture
def cloud(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    stub(bin_dir, "aws", f"""echo "aws $*" >> {calls}
case "$*" in
  *get-caller-identity*) echo 123456789012 ;;
  *describe-repositories*) ;;
  *describe-images*) if [ -n "$PUSHED" ]; then echo sha256:abc; else echo "not found" >&2; exit 254; fi ;;
  *get-login-password*) echo token ;;
esac
""")  # fmt: skip
    stub(bin_dir, "docker", f'echo "docker $*" >> {calls}; cat > /dev/null || true\n')
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}", "AWS_REGION": "us-east-1",
                        "MLPLATFORM_ENV": "staging", "PUSHED": ""}  # fmt: skip
    return env, calls


def build(env: dict[str, str], *targets: str) -> subprocess.CompletedProcess:
    return subprocess.run([ROOT / "scripts/build_push_ecr.sh", *targets], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_an_image_already_pushed_for_the_commit_is_not_rebuilt(cloud):
    env, calls = cloud
    result = build(env | {"PUSHED": "yes"}, "training")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com/iris-staging-training:[0-9a-f]{12}\S*\n",
                        result.stdout)  # fmt: skip
    assert "not rebuilt (tags are immutable)" in result.stderr
    assert "docker build" not in calls.read_text() and "docker push" not in calls.read_text()


def test_a_new_image_is_built_with_the_uid_and_mlflow_pins(cloud):
    env, calls = cloud
    result = build(env | {"APP_UID": "0", "MLFLOW_VERSION": "3.0.1"}, "inference")
    assert result.returncode == 0, result.stderr
    log = calls.read_text()
    assert "--build-arg APP_UID=0" in log and "--build-arg MLFLOW_VERSION=3.0.1" in log
    assert f"docker push {result.stdout.strip()}" in log


def test_without_pins_the_defaults_of_the_dockerfile_apply(cloud):
    env, calls = cloud
    assert build(env, "training").returncode == 0
    assert "APP_UID" not in calls.read_text() and "MLFLOW_VERSION" not in calls.read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_image_runs_as_uid_1000_unless_built_otherwise(dockerfile):
    parser = DockerfileParser(path=str(dockerfile))
    runtime = parser.structure[[i for i, s in enumerate(parser.structure) if s["instruction"] == "FROM"][-1] :]
    args = dict(a["value"].split("=", 1) for a in runtime if a["instruction"] == "ARG" and "=" in a["value"])
    assert args["APP_UID"] == "1000"
    assert [u["value"] for u in runtime if u["instruction"] == "USER"] == ["${APP_UID}:${APP_UID}"]
    assert "--build-arg APP_UID=0" in dockerfile.read_text()  # the fix the entrypoints name is documented


def test_a_missing_repository_points_at_the_ecr_module(cloud, tmp_path):
    env, _ = cloud
    aws = tmp_path / "bin" / "aws"
    aws.write_text(aws.read_text().replace("*describe-repositories*) ;;", "*describe-repositories*) exit 254 ;;"))
    result = build(env, "training")
    assert result.returncode == 1
    assert "terraform apply -target=module.ecr" in result.stderr
