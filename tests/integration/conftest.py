from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration.services import mlflow_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def mlflow_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real MLflow tracking server per test session (it takes 10-20 s to start)."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri


@pytest.fixture
def cli():
    """Invoke `mlplatform ...` in-process, like a user at a terminal; returns the Result."""
    from mlplatform.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def embedded_client(isolated_env: Path):
    """An MLflow client on the embedded store the CLI writes to (for assertions only)."""
    from mlflow import MlflowClient

    def make() -> MlflowClient:
        return MlflowClient(f"sqlite:///{isolated_env.resolve() / 'mlflow.db'}")

    return make
