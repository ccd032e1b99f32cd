"""Extract the hashicorp/aws provider schema our Terraform needs into tests/support/aws_provider_schema.json.

There is no terraform binary here (and no network to the registry), but PyPI's prebuilt provider
bindings for CDK for Terraform (`cdktf-cdktf-provider-aws`) carry the provider schema as a jsii
assembly: one class per resource and data source, and a `...Config` struct whose properties are
the block's arguments (camelCase) and nested blocks (structs). This script reads that assembly
and keeps, for every resource and data source our modules use, its arguments and nested blocks
(required or not), plus the name of every resource and data source the provider has.

    python scripts/extract_provider_schema.py [cdktf_cdktf_provider_aws-X.whl]

Without a wheel it downloads the pinned one with pip (~60 MB). Re-run it when the modules start
using a new resource type; the test says which.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.terraform import parse  # noqa: E402

WHEEL = "cdktf-cdktf-provider-aws==21.22.1"  # hashicorp/aws 6.25.0
OUTPUT = ROOT / "tests" / "support" / "aws_provider_schema.json"
DOCS = re.compile(r"registry\.terraform\.io/providers/hashicorp/aws/([\d.]+)/docs/(resources|data-sources)/(\w+)")


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def assembly(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        inner = next(n for n in archive.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(archive.read(inner))) as tar:
            return json.load(tar.extractfile("package/.jsii"))  # type: ignore[arg-type]


def structs_in(kind: Any, types: dict[str, Any]) -> list[str]:
    """The data-type structs a property's type refers to (a nested block), if any."""
    if isinstance(kind, dict):
        fqn = kind.get("fqn")
        if fqn and types.get(fqn, {}).get("datatype") and not fqn.startswith("cdktf."):
            return [fqn]
        return [s for value in kind.values() for s in structs_in(value, types)]
    if isinstance(kind, list):
        return [s for value in kind for s in structs_in(value, types)]
    return []


def block(fqn: str, types: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Arguments and nested blocks of one struct, recursively."""
    arguments, blocks = {}, {}
    for prop in types[fqn].get("properties", []):
        name = snake(prop["name"])
        nested = structs_in(prop["type"], types)
        if nested and depth < 6:
            blocks[name] = block(nested[0], types, depth + 1) | {"required": not prop.get("optional", False)}
        else:
            arguments[name] = {"required": not prop.get("optional", False)}
    return {"arguments": arguments, "blocks": blocks}


def used_types() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in (ROOT / "infra" / "terraform").rglob("*.tf"):
        for kind in used:
            for entry in parse(path).get(kind, []):
                used[kind] |= set(entry)
    return used


def main() -> None:
    if len(sys.argv) > 1:
        wheel = Path(sys.argv[1])
    else:
        folder = Path(tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", folder, WHEEL], check=True)
        wheel = next(folder.glob("*.whl"))
    types = assembly(wheel)["types"]
    names: dict[str, dict[str, str]] = {"resource": {}, "data": {}}
    version = ""
    for fqn, entry in types.items():
        match = DOCS.search(entry.get("docs", {}).get("summary", ""))
        if entry.get("kind") == "class" and match:
            version = match.group(1)
            names["resource" if match.group(2) == "resources" else "data"][f"aws_{match.group(3)}"] = fqn
    used = used_types()
    schema = {
        "provider": f"hashicorp/aws {version}",
        "source": WHEEL,
        "resource_types": sorted(names["resource"]),
        "data_types": sorted(names["data"]),
        "resource": {
            t: block(names["resource"][t] + "Config", types) for t in sorted(used["resource"]) if t in names["resource"]
        },
        "data": {t: block(names["data"][t] + "Config", types) for t in sorted(used["data"]) if t in names["data"]},
    }
    OUTPUT.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    summary = f"{len(schema['resource'])} resource and {len(schema['data'])} data source schemas"
    sys.stdout.write(f"{OUTPUT.relative_to(ROOT)}: {schema['provider']}, {summary}\n")


if __name__ == "__main__":
    main()
