"""The one place an MlflowClient is built: one tracking URI, checked before first use."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mlplatform.errors import ConfigError, RegistryError
from mlplatform.locks import exclusive_lock
from mlplatform.redact import redact_logs, redact_uri
from mlplatform.registry.mlflow.errors import mlflow_errors
from mlplatform.registry.uris import is_sagemaker_arn

if TYPE_CHECKING:
    from mlflow import MlflowClient


class Connection:
    """A tracking server (or the embedded SQLite store) and the client that talks to it."""

    def __init__(self, tracking_uri: str, artifact_root: Path | None = None, lock_dir: Path | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root  # embedded store only: where experiments keep artifacts
        self.lock_dir = lock_dir  # embedded store only: where the schema-creation lock lives
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self.check_reachable()
            import mlflow
            from mlflow import MlflowClient

            redact_logs(logging.getLogger("mlflow"), logging.getLogger())
            if redact_uri(self.tracking_uri) != self.tracking_uri:  # MLflow prints run URLs as they are
                os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.tracking_uri)
            if self.tracking_uri.startswith("sqlite:") and self.lock_dir is not None:
                self._client = self._open_embedded()
            else:
                with mlflow_errors("open the tracking store", self.tracking_uri):
                    self._client = MlflowClient(self.tracking_uri, self.tracking_uri)
        return self._client

    def _open_embedded(self) -> MlflowClient:
        """Create or migrate the SQLite schema once, under an exclusive lock: two processes doing
        it at the same time leave a store that never opens again (`_alembic_tmp_...`)."""
        from mlflow import MlflowClient

        assert self.lock_dir is not None
        with exclusive_lock(self.lock_dir / "mlflow-store.lock", "the MLflow store's set-up"):
            try:
                client = MlflowClient(self.tracking_uri, self.tracking_uri)
                client.search_experiments(max_results=1)  # the tracking schema
                client.search_registered_models(max_results=1)  # the registry schema
            except Exception as exc:  # noqa: BLE001 - any failure here means the store cannot be used
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                path = self.tracking_uri.removeprefix("sqlite:///")
                raise RegistryError(
                    f"the embedded MLflow store {path} cannot be opened ({first})",
                    f"if it is damaged, move {path} aside (runs and models in it are lost) or restore a backup",
                ) from None
        return client

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Fail in seconds, not after MLflow's minutes of retries, when a server is down."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            if is_sagemaker_arn(self.tracking_uri):
                _require_sagemaker_plugin(self.tracking_uri)
            return
        import requests

        url = self.tracking_uri.rstrip("/") + "/health"
        shown = redact_uri(self.tracking_uri)
        try:
            response = requests.get(url, timeout=timeout)
        except requests.RequestException as exc:
            raise RegistryError(
                f"MLflow at {shown} is unreachable ({type(exc).__name__})",
                "start the server or fix MLFLOW_TRACKING_URI",
            ) from None
        if response.status_code >= 400:
            raise RegistryError(
                f"MLflow at {shown} answered HTTP {response.status_code} on /health",
                "check the URL, credentials, and the server's --allowed-hosts",
            )


def _require_sagemaker_plugin(uri: str) -> None:
    if importlib.util.find_spec("sagemaker_mlflow") is None:
        raise ConfigError(
            f"tracking URI {uri} is a SageMaker MLflow ARN but the sagemaker-mlflow plugin is missing",
            "install the AWS extra: uv sync --extra aws (or pip install 'mlplatform[aws]')",
        )


def safe_dir(name: str) -> str:
    """A name usable as one path segment (experiment artifact folders, lock files)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
