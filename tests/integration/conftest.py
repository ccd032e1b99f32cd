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
        uri = f"sqlite:///{isolated_env.resolve() / 'mlflow.db'}"
        return MlflowClient(uri, registry_uri=uri)

    return make


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto in server mode: a real S3 HTTP API on 127.0.0.1 for boto3 and pyarrow alike."""
    import logging

    from moto.server import ThreadedMotoServer

    from tests.integration.services import free_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request, to whichever stream was current
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket; the standard AWS variables point every client at the moto server."""
    import re
    import uuid

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    from mlplatform.clients import Clients

    Clients().boto3("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def kafka_broker() -> Iterator[object]:
    """A Kafka-protocol broker process (librdkafka mock cluster) with a 'predictions' topic."""
    from mlplatform.devstack.kafka_broker import mock_broker

    with mock_broker({"predictions": 4}) as broker:
        yield broker


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mlplatform train -p n_estimators=20` once per session (tests get a clone)."""
    from tests.support.state import train_template

    return train_template(tmp_path_factory.mktemp("trained") / "state", "-p", "n_estimators=20")


@pytest.fixture
def trained(trained_template: Path, isolated_env: Path) -> None:
    """A promoted iris-model v1 in the embedded store (small forest), as `mlplatform train -p
    n_estimators=20` leaves it: cloned from the session's template."""
    from tests.support.state import clone_state

    clone_state(trained_template, isolated_env)


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """Debian's PostgreSQL server on a loopback port, one per test session."""
    from tests.support.postgres import postgres_server

    with postgres_server() as server:
        yield server
