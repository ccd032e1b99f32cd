"""Images and their build script, checked statically: no Docker engine or AWS account here.

hadolint and checkov lint the Dockerfiles; `aws` and `docker` are replaced by recording stubs to
exercise scripts/build_push_ecr.sh's decisions (repository check, tags, build arguments).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
HADOLINT = Path(sys.executable).with_name("hadolint")
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"


def test_both_images_exist():
    assert [p.name for p in DOCKERFILES] == ["inference.Dockerfile", "training.Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_reports_nothing(dockerfile):
    result = subprocess.run([HADOLINT, "--format", "json", str(dockerfile)], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert json.loads(result.stdout or "[]") == []
    assert result.returncode == 0


def test_checkov_dockerfile_checks_pass():
    assert CHECKOV.exists(), "make test installs checkov into .tools/checkov"
    result = subprocess.run(
        [CHECKOV, "-d", str(ROOT / "docker"), "--framework", "dockerfile", "--skip-download", "--quiet",
         "--output", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    summary = json.loads(result.stdout)["summary"]
    assert summary["failed"] == 0 and summary["passed"] > 50, summary


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_image_structure(dockerfile):
    parser = DockerfileParser(path=str(dockerfile))
    stages = [i for i in parser.structure if i["instruction"] == "FROM"]
    assert len(stages) >= 3  # uv, build, runtime
    for stage in stages:
        image = stage["value"].split()[0]
        assert ":" in image and not image.endswith(":latest"), image
    text = dockerfile.read_text()
    assert "uv sync --frozen --no-dev" in text
    final = parser.structure[[i for i, s in enumerate(parser.structure) if s["instruction"] == "FROM"][-1] :]
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for instruction in parser.structure:
        if instruction["instruction"] in ("ENV", "ARG"):
            assert not any(word in instruction["value"].upper() for word in ("PASSWORD", "SECRET", "ACCESS_KEY"))
    entrypoint = [i["value"] for i in final if i["instruction"] == "ENTRYPOINT"][-1]
    script = json.loads(entrypoint)[0]
    assert script in ("mlplatform-sagemaker-train", "mlplatform-sagemaker-score")
    assert (Path(sys.executable).parent / script).exists()  # the console script the image will have


def test_dockerignore_keeps_state_and_secrets_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", ".mlplatform", "*.db", ".env", "tests"):
        assert entry in ignored


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def fake_cloud(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    stub(
        bin_dir,
        "aws",
        f"""echo "aws $*" >> {calls}
case "$*" in
  *get-caller-identity*) echo 123456789012 ;;
  *describe-repositories*) [[ "$*" == *"$EXISTING_REPOS"* ]] || exit 254 ;;
  *get-login-password*) echo token ;;
esac
""",
    )
    stub(bin_dir, "docker", f'echo "docker $*" >> {calls}; cat > /dev/null || true\n')
    env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}", "AWS_REGION": "eu-west-1",
                        "MLPLATFORM_ENV": "prod"}  # fmt: skip
    return env, calls


def test_build_script_builds_tags_with_the_commit_and_prints_the_uri(fake_cloud):
    env, calls = fake_cloud
    env["EXISTING_REPOS"] = "iris-prod-inference"
    result = subprocess.run([ROOT / "scripts/build_push_ecr.sh", "inference"], env=env, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    uri = result.stdout.strip()
    assert uri.startswith(f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-prod-inference:{commit}")
    log = calls.read_text()
    assert "docker build --file" in log and "docker/inference.Dockerfile" in log
    assert f"GIT_COMMIT={commit}" in log
    assert f"docker push {uri}" in log


def test_build_script_fails_clearly_when_the_repository_is_missing(fake_cloud):
    env, calls = fake_cloud
    env["EXISTING_REPOS"] = "nothing"
    result = subprocess.run([ROOT / "scripts/build_push_ecr.sh"], env=env, capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert result.returncode == 1
    assert "ECR repository 'iris-prod-training' does not exist in eu-west-1" in result.stderr
    assert "docker build" not in calls.read_text()


def test_build_script_rejects_an_unknown_target():
    result = subprocess.run([ROOT / "scripts/build_push_ecr.sh", "gpu"], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "usage" in result.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_build_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", ROOT / "scripts/build_push_ecr.sh"], check=False).returncode == 0
