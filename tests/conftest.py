"""Shared fixtures: every test gets its own state directory and a clean environment."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlplatform.data.loading import iris_frame

SEED_ENV_VARS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",  # MLflow sets it in os.environ when a client points at a store
    "MLFLOW_MODEL_URI",
    "MODEL_NAME",
    "EXPERIMENT_NAME",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_TOPIC",
)


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """No setting leaks in from the developer's shell; state goes to `home`."""
    import os

    for name in list(os.environ):
        if name.startswith("MLPLATFORM_") or name in SEED_ENV_VARS:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLPLATFORM_HOME", str(home))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLPLATFORM_ACTOR", "pytest")
    _forget_mlflow_uris(monkeypatch)
    return home


def _forget_mlflow_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow keeps the last `set_tracking_uri`/`set_registry_uri` of an in-process command in module
    globals, which win over a client's own URI: a test must not inherit an earlier test's store."""
    import sys

    if "mlflow" not in sys.modules:
        return
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every test: a clean environment and a state directory of its own."""
    return isolate(monkeypatch, tmp_path / "state")


@pytest.fixture
def iris() -> pd.DataFrame:
    return iris_frame()


@pytest.fixture
def iris_csv(tmp_path: Path, iris: pd.DataFrame) -> Path:
    path = tmp_path / "iris.csv"
    iris.rename(columns={"species": "label"}).to_csv(path, index=False)
    return path
