"""The control files of the data root, read as input, not as truth.

A data root is often a shared bucket that several jobs and people can write. Every control file
is parsed and checked before anything acts on it: the `_SUCCESS` manifest names a run folder of
its own date and parts inside that run (each with its size and SHA-256), a `_pending` entry names
a plain run id, `_PUBLISHED` is a JSON object. Anything else is a CorruptControlFileError naming
the file and the fix; nothing is read, published or deleted on its word.
"""

from __future__ import annotations

import json
import re
from datetime import date as Date
from typing import Any

from mlplatform.errors import CorruptControlFileError
from mlplatform.layout import safe_segment
from mlplatform.sinks.store import OutsideStoreError, check_relative

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PENDING_NAME = re.compile(r"^date=(?P<date>\d{4}-\d{2}-\d{2})(?:~(?P<shard>[^~]+))?~run=(?P<run_id>[^~/]+)\.json$")


def corrupt(where: str, problem: str) -> CorruptControlFileError:
    return CorruptControlFileError(
        f"{where} is corrupt: {problem}",
        "re-score the date to replace it (mlplatform score --date D), or delete the file; `mlplatform check` "
        "lists corrupt control files",
    )


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise corrupt(where, "not valid JSON (empty or truncated?)") from None
    if not isinstance(value, dict):
        raise corrupt(where, "not a JSON object")
    return value


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """A `_SUCCESS` manifest whose run and parts stay inside its own date folder."""
    manifest = _json_object(data, where)
    run = manifest.get("run")
    if not isinstance(run, str) or not run.startswith("run=") or not safe_segment(run):
        raise corrupt(where, f"its run {run!r} is not a run folder of this date")
    for key in ("parts", "quarantine"):
        parts = manifest.get(key, [])
        if not isinstance(parts, list):
            raise corrupt(where, f"{key} is not a list")
        for part in parts:
            _check_part(part, run, where)
    return manifest


def _check_part(part: Any, run: str, where: str) -> None:
    if not isinstance(part, dict) or not isinstance(part.get("path"), str):
        raise corrupt(where, f"a part without a path: {str(part)[:80]}")
    path = part["path"]
    try:
        check_relative(path)
    except OutsideStoreError:
        raise corrupt(where, f"part {path!r} points outside its date folder") from None
    if not path.startswith(run + "/"):
        raise corrupt(where, f"part {path!r} is not inside the committed run {run}")
    if not isinstance(part.get("sha256"), str) or not _SHA256.match(part["sha256"]):
        raise corrupt(where, f"part {path!r} has no SHA-256")
    if not isinstance(part.get("rows"), int) or part["rows"] < 0:
        raise corrupt(where, f"part {path!r} has no row count")


def parse_published(data: bytes, where: str) -> dict[str, Any]:
    return _json_object(data, where)


def parse_pending(name: str, data: bytes | None, where: str) -> dict[str, Any]:
    """A `_pending` entry: date, shard, run id (validated), and host, pid, start when readable.
    A broken entry's content is replaced by what its name says (date, shard, run id); a name
    that is not an entry's is refused."""
    found = _PENDING_NAME.match(name)
    if found is None or not safe_segment(found["run_id"]) or not _is_date(found["date"]):
        raise corrupt(where, "not the name of a pending-run entry")
    if found["shard"] is not None and not safe_segment(found["shard"]):
        raise corrupt(where, f"its shard {found['shard']!r} is not a plain name")
    from_name = {"date": found["date"], "shard": found["shard"], "run_id": found["run_id"]}
    try:
        entry = _json_object(data or b"", where)
    except CorruptControlFileError:
        return from_name | {"broken": True}
    if {k: entry.get(k) for k in from_name} != from_name:
        raise corrupt(where, "its content names another run than its file name")
    return entry


def _is_date(text: str) -> bool:
    try:
        Date.fromisoformat(text)
    except ValueError:
        return False
    return True
