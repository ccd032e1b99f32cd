"""The MLflow adapter, split by job: the connection (the one MlflowClient), tracking (runs and
what they log), the registered model (versions, aliases, history), and model loading. It is
the only code that imports `mlflow`; failures leave it as RegistryError / ModelNotFoundError."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlplatform.redact import redact_uri
from mlplatform.registry.mlflow.connection import Connection
from mlplatform.registry.mlflow.models import PROFILE_ARTIFACT, ModelLoader, ResolvedModel
from mlplatform.registry.mlflow.registered import RegisteredModel, VersionInfo
from mlplatform.registry.mlflow.tracking import LoggedModel, RunLogger, Tracking


@dataclass(frozen=True)
class Mlflow:
    """Every job of the adapter on one connection, for one registered model name."""

    connection: Connection
    tracking: Tracking
    model: RegisteredModel
    loader: ModelLoader

    @classmethod
    def open(
        cls, tracking_uri: str, model_name: str, state_dir: Path, embedded: bool, allow_unverified: bool = False
    ) -> Mlflow:
        """`embedded`: the SQLite store under `state_dir`, with artifacts next to it;
        `allow_unverified`: versions registered without a SHA-256 of their files may load."""
        if embedded:
            state_dir.mkdir(parents=True, exist_ok=True)
        connection = Connection(
            tracking_uri, state_dir / "artifacts" if embedded else None, state_dir / "locks" if embedded else None
        )
        return cls(
            connection,
            Tracking(connection),
            RegisteredModel(connection, model_name, state_dir / "locks"),
            ModelLoader(connection, allow_unverified),
        )

    @property
    def tracking_uri(self) -> str:
        """For people and files: any password in the URI masked (the connection keeps it)."""
        return redact_uri(self.connection.tracking_uri)


__all__ = [
    "PROFILE_ARTIFACT",
    "Connection",
    "LoggedModel",
    "Mlflow",
    "ModelLoader",
    "RegisteredModel",
    "ResolvedModel",
    "RunLogger",
    "Tracking",
    "VersionInfo",
]
