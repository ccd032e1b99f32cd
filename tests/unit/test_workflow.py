"""The CI/CD workflow: build -> push -> plan -> apply per environment, with the seeds' secrets."""

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).parents[2] / ".github" / "workflows" / "deploy.yml"


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
    assert "scripts/build_push_ecr.sh training" in text and "sagemaker definition inference" in text
