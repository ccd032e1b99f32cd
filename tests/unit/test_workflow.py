"""The CI/CD workflow: build -> push -> plan -> apply per environment, with the seeds' secrets."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"


def test_deploy_runs_tests_then_build_push_plan_apply():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs = workflow["jobs"]
    assert jobs["deploy"]["needs"] == "test"
    assert [s["run"] for s in jobs["test"]["steps"] if "run" in s] == ["make lint", "make test"]
    names = [s.get("name", "") for s in jobs["deploy"]["steps"]]
    order = [next(i for i, n in enumerate(names) if n.startswith(word)) for word in
             ("Build and push", "Render", "Terraform init", "Terraform plan", "Terraform apply")]  # fmt: skip
    assert order == sorted(order)
    text = WORKFLOW.read_text()
    for secret in ("TF_BACKEND_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BUCKET_NAME_SUFFIX"):
        assert f"secrets.{secret}" in text
    assert workflow[True]["workflow_dispatch"]["inputs"]["environment"]["options"] == ["staging", "prod"]
    assert "scripts/build_push_ecr.sh" in text and "sagemaker definition inference" in text


def test_a_failed_build_fails_its_step():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["defaults"]["run"]["shell"] == "bash"  # GitHub runs it with -e and -o pipefail
    text = WORKFLOW.read_text()
    assert not re.search(r"\$\([^)]*build_push_ecr\.sh[^)]*\|", text), "a pipe inside $(...) hides the exit status"
    build = next(s for s in workflow["jobs"]["deploy"]["steps"] if s.get("name", "").startswith("Build and push"))
    assert build["run"].startswith("set -euo pipefail")
    assert build["env"]["MLFLOW_VERSION"] == "${{ vars.MLFLOW_VERSION }}"  # the client matches the managed server


def test_every_job_has_a_time_limit():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert all(0 < job["timeout-minutes"] <= 90 for job in workflow["jobs"].values())


def test_the_readme_lists_every_secret_and_variable_the_workflow_reads():
    text = WORKFLOW.read_text()
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r"\$\{\{\s*(?:secrets|vars)\.([A-Za-z0-9_]+)", text))
    assert {"TF_BACKEND_BUCKET", "TF_VAR_s3_bucket_name", "MLFLOW_VERSION"} <= names
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert missing == [], "list them in README, AWS deployment"
