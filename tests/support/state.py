"""A trained state directory made once per test session and cloned into each test's own.

Training the default model takes seconds; dozens of tests only need "a promoted iris-model v1".
The embedded MLflow store records absolute paths (SQLite rows and each model's MLmodel file), and
the registry records the SHA-256 of the model's files, so a clone rewrites the paths and the
digest: what the clone holds is exactly what `mlplatform train` would have made there."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from mlplatform.registry.mlflow.models import DIGEST_TAG, folder_digest

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))


def train_template(home: Path, *args: str) -> Path:
    """`mlplatform train ARGS` into `home`, in a process of its own with a clean environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLATFORM_", "MLFLOW_", "KAFKA_", "AWS_"))}
    env |= {"MLPLATFORM_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true", "MLPLATFORM_ACTOR": "pytest"}
    result = subprocess.run([MLPLATFORM, "train", *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"training the template state failed:\n{result.stdout}\n{result.stderr}")
    return home


def clone_state(template: Path, home: Path) -> None:
    """Copy `template` to `home` with every recorded path and model digest rewritten."""
    # not the run history: the template's own `train` is not a run of the test
    shutil.copytree(template, home, ignore=shutil.ignore_patterns("*.lock", "runs.db*"))
    old, new = str(template), str(home)
    for mlmodel in home.glob("artifacts/**/MLmodel"):
        mlmodel.write_text(mlmodel.read_text().replace(old, new))
    with sqlite3.connect(home / "mlflow.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            columns = db.execute(f'PRAGMA table_info("{table}")').fetchall()
            for column in [name for _, name, kind, *_ in columns if "CHAR" in kind.upper() or "TEXT" in kind.upper()]:
                query = f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) WHERE "{column}" LIKE ?'
                db.execute(query, (old, new, f"%{old}%"))
        versions = db.execute("SELECT name, version, storage_location FROM model_versions").fetchall()
        for name, version, location in versions:
            digest = folder_digest(Path(location.removeprefix("file://")))
            db.execute(
                "UPDATE model_version_tags SET value = ? WHERE name = ? AND version = ? AND key = ?",
                (digest, name, version, DIGEST_TAG),
            )
