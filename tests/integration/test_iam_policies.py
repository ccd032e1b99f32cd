"""Every IAM policy our Terraform modules write, linted by `parliament` against IAM's own catalogue
of actions, resource types and condition keys (unknown actions, an action on a resource type it
does not take, a condition key the action does not know, malformed statements).

The policies are `aws_iam_policy_document` blocks read offline with python-hcl2; each `${...}`
stands for the value the module passes there (a bucket ARN, a tracking-server ARN...), picked
from SAMPLES by the expression's text. An expression SAMPLES does not know fails the test, so a
new policy is never linted with a guess. Trust policies (no resources, only `sts:AssumeRole` for
a service) are checked for exactly that. parliament has an environment of its own (`make
test-tools`), like checkov: it pins setuptools<81 for `pkg_resources`.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.terraform import parse

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "infra" / "terraform" / "modules"
PARLIAMENT = ROOT / ".tools" / "parliament" / "bin" / "parliament"
ACCOUNT, REGION = "123456789012", "us-east-1"

# (text in the expression, what it stands for): the first match wins, so specific before general.
SAMPLES: list[tuple[str, str]] = [
    ("kms", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    ("secret", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:iris/kafka-AbCdEf"),
    ("mlflow_tracking_server_arn", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:mlflow-tracking-server/iris-mlflow"),
    ("mlflow_artifact_bucket_arn", "arn:aws:s3:::iris-mlflow-artifacts"),
    ("s3_arns[each.key].keys", "iris/models"),  # s3:prefix condition values
    ("s3_arns", "arn:aws:s3:::iris-data/iris/models/*"),
    ("input_channels", "arn:aws:s3:::iris-data/iris/datasets/*"),
    ("output_s3_path", "arn:aws:s3:::iris-data/iris/models/*"),
    ("bucket_arn", "arn:aws:s3:::iris-data"),
    ("repository_arn", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/iris-staging-training"),
    ("aws_sagemaker_pipeline", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/iris-staging-training"),
    ("aws_sns_topic", f"arn:aws:sns:{REGION}:{ACCOUNT}:iris-staging-alerts"),
    ("aws_cloudwatch_event_rule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/iris-staging-pipeline-failed"),
    ("api_destination", f"arn:aws:events:{REGION}:{ACCOUNT}:api-destination/slack/0a1b2c3d"),
    ("aws_iam_role", f"arn:aws:iam::{ACCOUNT}:role/iris-staging-training-job"),
    ("vpc_id", "vpc-0123456789abcdef0"),
    ("subnet_ids", f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-0123456789abcdef0"),
    ("schedule_mechanism", "scheduler.amazonaws.com"),
    # parts of ARNs last: a whole-list expression above may contain them
    ("partition", "aws"),
    ("region", REGION),
    ("account", ACCOUNT),
    ("each.key", "training"),
    ("local.name", "iris-staging"),
]
# Findings that are the catalogue's, not ours, each with the reason it is accepted.
ACCEPTED = {
    ("RESOURCE_MISMATCH", "sagemaker-mlflow:AccessUI"): "`sagemaker-mlflow:*` on the one tracking server "
    "is AWS's recommended grant; AccessUI takes no resource, so the wildcard simply does not grant it to jobs",
}
# Condition keys every request carries (those our policies use).
GLOBAL_KEYS = {"aws:SourceArn", "aws:SourceAccount", "aws:PrincipalArn", "aws:RequestedRegion", "aws:SecureTransport"}
INTERPOLATION = re.compile(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}")


def sample(expression: str) -> str:
    for text, value in SAMPLES:
        if text in expression:
            return value
    raise AssertionError(f"no sample value for ${{{expression}}}: add one to SAMPLES")


def resolved(value: str | list[str]) -> list[str]:
    """A string or list attribute with every interpolation replaced by its sample."""
    items = [value] if isinstance(value, str) else value
    return [INTERPOLATION.sub(lambda match: sample(match.group(1)), item) for item in items]


def statement(block: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"Effect": block.get("effect", "Allow")}
    if "sid" in block:
        converted["Sid"] = block["sid"]
    for attribute, key in (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource")):
        if attribute in block:
            converted[key] = resolved(block[attribute])
    for principal in block.get("principals", []):
        converted.setdefault("Principal", {})[principal["type"]] = resolved(principal["identifiers"])
    for condition in block.get("condition", []):
        operator = converted.setdefault("Condition", {}).setdefault(condition["test"], {})
        operator[condition["variable"]] = resolved(condition["values"])
    return converted


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Static and dynamic statements alike: a dynamic block is linted as if it were enabled."""
    found = [statement(block) for block in document.get("statement", [])]
    for dynamic in document.get("dynamic", []):
        for content in dynamic.get("statement", {}).get("content", []):
            found.append(statement(content))
    return found


def policy_documents() -> dict[str, dict[str, Any]]:
    documents = {}
    for path in sorted(MODULES.glob("*/*.tf")):
        for block in parse(path).get("data", []):
            for name, document in block.get("aws_iam_policy_document", {}).items():
                documents[f"{path.parent.name}.{name}"] = {"Version": "2012-10-17", "Statement": statements(document)}
    return documents


DOCUMENTS = policy_documents()
TRUST = {name for name, doc in DOCUMENTS.items() if all("Resource" not in s for s in doc["Statement"])}


def test_every_module_policy_is_found():
    modules = {name.split(".")[0] for name in DOCUMENTS}
    assert modules == {"mlflow", "monitoring", "sagemaker-pipelines", "training-job"}
    assert len(DOCUMENTS) - len(TRUST) >= 7


def test_every_permission_policy_passes_parliament(tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    for name in sorted(set(DOCUMENTS) - TRUST):
        (folder / f"{name}.json").write_text(json.dumps(DOCUMENTS[name], indent=1))
    result = subprocess.run(
        [str(PARLIAMENT), "--directory", str(folder), "--include_policy_extension", "json", "--json"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    findings = [f for f in findings if not accepted(f)]
    readable = [
        f"{Path(f['location']['filepath']).stem}: {f['issue']} {f['detail']} at {f['location'].get('string')}"
        for f in findings
    ]
    assert readable == [], "\n".join(readable)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]


def accepted(finding: dict[str, Any]) -> bool:
    detail = finding["detail"] if isinstance(finding["detail"], list) else []
    actions = {entry["action"] if isinstance(entry, dict) else entry for entry in detail}
    return bool(actions) and all((finding["issue"], action) in ACCEPTED for action in actions)


def test_parliament_would_catch_a_misspelt_action_or_a_wrong_resource_type(tmp_path):
    """The linter is live: the same run on a broken copy of the execution policy finds both."""
    broken = json.loads(json.dumps(DOCUMENTS["sagemaker-pipelines.execution"]))
    broken["Statement"][0]["Action"] = ["s3:GetObjekt"]
    broken["Statement"].append({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::bucket"]})
    result = subprocess.run(
        [str(PARLIAMENT), "--json"], input=json.dumps(broken), capture_output=True, text=True, timeout=60, check=False
    )
    issues = {json.loads(line)["issue"] for line in result.stdout.splitlines() if line.strip()}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH"} <= issues


def test_every_condition_key_is_one_each_resource_of_the_statement_carries():
    """A condition on a key the request's resource does not carry is false, and the action is
    denied: `ec2:Vpc` on a network interface being created was one (parliament does not see it)."""
    catalogue = {service["prefix"]: service for service in json.loads(next(PARLIAMENT.parents[1].glob(
        "lib/python*/site-packages/parliament/iam_definition.json")).read_text())}  # fmt: skip
    problems = []
    for name in sorted(set(DOCUMENTS) - TRUST):
        for grant in DOCUMENTS[name]["Statement"]:
            conditions = grant.get("Condition", {}).items()  # IfExists: a missing key passes
            keys = {key for test, operator in conditions if not test.endswith("IfExists") for key in operator}
            for action in grant["Action"] if keys else ():
                prefix, verb = action.split(":")
                if "*" in verb:
                    continue
                service = catalogue[prefix]
                privilege = next(p for p in service["privileges"] if p["privilege"] == verb)
                for resource in grant["Resource"]:
                    for kind, carries in carried(service, privilege, resource):
                        problems += [
                            f"{name} {grant.get('Sid')}: {action} on {kind} has no {key}" for key in keys - carries
                        ]
    assert problems == [], "\n".join(problems)


def carried(service: dict[str, Any], privilege: dict[str, Any], resource: str) -> list[tuple[str, set[str]]]:
    """Each resource type a request for `privilege` on `resource` names, with the condition keys
    it carries (its own, the action's, the global ones). `*` stands for every required type of
    the action (each must satisfy the condition); an ARN for the type it matches, if any."""
    arns = {r["resource"]: r["arn"] for r in service["resources"]}
    common = set(GLOBAL_KEYS).union(
        *(k["condition_keys"] for k in privilege["resource_types"] if not k["resource_type"])
    )
    found = []
    for kind in privilege["resource_types"]:
        name = kind["resource_type"].rstrip("*")
        pattern = re.sub(r"\\\$\\\{[^}]*\\\}", ".*", re.escape(arns.get(name, "")))
        if name and (re.fullmatch(pattern, resource) or (resource == "*" and kind["resource_type"].endswith("*"))):
            found.append((name if resource == "*" else resource, common | set(kind["condition_keys"])))
    if resource == "*" and not found:  # an action without resource types
        return [(resource, common)]
    return found


@pytest.mark.parametrize("name", sorted(TRUST))
def test_trust_policies_let_one_aws_service_assume_the_role_and_nothing_else(name):
    for trust in DOCUMENTS[name]["Statement"]:
        assert trust["Action"] == ["sts:AssumeRole"]
        assert set(trust["Principal"]) == {"Service"}
        assert all(service.endswith(".amazonaws.com") for service in trust["Principal"]["Service"])
