"""Every block of our Terraform checked offline against the hashicorp/aws provider's own schema
(tests/support/aws_provider_schema.json, extracted by scripts/extract_provider_schema.py from the
provider bindings on PyPI): resource and data source types exist, every argument and nested block
is one the provider knows, required ones are present. Every `module` call is checked against the
module's variables the same way. What `terraform validate` would say, without terraform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.terraform import parse

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
SCHEMA = json.loads((ROOT / "tests" / "support" / "aws_provider_schema.json").read_text())
META = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection", "dynamic"}
FILES = sorted(TERRAFORM.rglob("*.tf"))


def problems_in(body: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """Unknown or missing arguments and blocks of one block body, nested blocks included."""
    found = []
    known = set(schema["arguments"]) | set(schema["blocks"])
    present = {key for key in body if not key.startswith("__")}
    for dynamic in body.get("dynamic", []):  # dynamic "rule" { content { ... } }
        for name, generated in dynamic.items():
            present.add(name)
            if name in schema["blocks"]:
                for content in generated.get("content", []):
                    found += problems_in(content, schema["blocks"][name], f"{where}.{name}")
    found += [f"{where}: unknown argument or block {key!r}" for key in sorted(present - known - META)]
    for name, spec in {**schema["arguments"], **schema["blocks"]}.items():
        if spec["required"] and name not in present and name != "id":
            found.append(f"{where}: required {name!r} missing")
    for name, nested in schema["blocks"].items():
        values = body.get(name)
        for value in values if isinstance(values, list) else [values] if isinstance(values, dict) else []:
            if isinstance(value, dict):
                found += problems_in(value, nested, f"{where}.{name}")
    return found


def module_schema(source: Path) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for path in source.glob("*.tf"):
        for entry in parse(path).get("variable", []):
            variables.update(entry)
    arguments = {name: {"required": "default" not in spec} for name, spec in variables.items()}
    return {"arguments": arguments | {"source": {"required": True}}, "blocks": {}}


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TERRAFORM)) for p in FILES])
def test_every_block_is_valid_against_the_provider_schema(path):
    problems = []
    parsed = parse(path)
    for kind, known in (("resource", "resource_types"), ("data", "data_types")):
        for entry in parsed.get(kind, []):
            for type_name, instances in entry.items():
                if type_name not in SCHEMA[known]:
                    problems.append(f"{kind} {type_name}: no such type in {SCHEMA['provider']}")
                    continue
                if type_name not in SCHEMA[kind]:
                    problems.append(
                        f"{kind} {type_name}: not in the extracted schema; run scripts/extract_provider_schema.py"
                    )
                    continue
                for name, body in instances.items():
                    problems += problems_in(body, SCHEMA[kind][type_name], f"{type_name}.{name}")
    for entry in parsed.get("module", []):
        for name, body in entry.items():
            source = (path.parent / body["source"]).resolve()
            problems += problems_in(body, module_schema(source), f"module.{name}")
    assert problems == [], "\n".join(problems)


def test_the_check_finds_a_misspelt_argument_a_missing_one_and_an_unknown_type():
    """The check is live: the same walk over a broken copy of a real block finds each defect."""
    schema = SCHEMA["resource"]["aws_s3_bucket_lifecycle_configuration"]
    body = {"bucket": "b", "rule": [{"id": "x", "status": "Enabled", "expiraton": [{"days": 1}]}]}
    assert problems_in(body, schema, "r") == ["r.rule: unknown argument or block 'expiraton'"]
    assert problems_in({"rule": body["rule"][:0]}, schema, "r") == ["r: required 'bucket' missing"]
    assert "aws_sagemaker_training_job" not in SCHEMA["resource_types"]  # the reason training-job is a schedule
    assert SCHEMA["provider"].startswith("hashicorp/aws 6.")
