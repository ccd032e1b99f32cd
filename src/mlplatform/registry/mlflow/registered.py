"""The registered model: versions, aliases and their history, the promotion gate's moves."""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlplatform.errors import ModelNotFoundError
from mlplatform.locks import exclusive_lock
from mlplatform.registry.history import Action, AliasEvent, champion_stack, events_from_tags, next_seq
from mlplatform.registry.mlflow.connection import Connection, safe_dir
from mlplatform.registry.mlflow.errors import mlflow_errors
from mlplatform.registry.mlflow.models import DIGEST_TAG
from mlplatform.registry.mlflow.tracking import LoggedModel
from mlplatform.registry.promotion import PromotionDecision

log = logging.getLogger(__name__)
LEGACY_STAGE = "Production"
MISSING = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version as `mlplatform model list` shows it."""

    version: str
    aliases: tuple[str, ...]
    run_id: str | None
    created: datetime
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def actor() -> str:
    """Who is moving an alias: MLPLATFORM_ACTOR (set it in CI/schedulers), else user@host."""
    explicit = os.environ.get("MLPLATFORM_ACTOR")
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class RegisteredModel:
    """One registered model name in one registry."""

    def __init__(self, connection: Connection, name: str, lock_dir: Path | None = None) -> None:
        self.connection = connection
        self.name = name
        self.lock_dir = lock_dir

    @property
    def _uri(self) -> str:
        return self.connection.tracking_uri

    def exists(self) -> bool:
        from mlflow.exceptions import MlflowException

        with mlflow_errors(f"read model {self.name!r}", self._uri):
            try:
                self.connection.client.get_registered_model(self.name)
            except MlflowException:
                return False
        return True

    def require(self) -> None:
        """ModelNotFoundError (exit 2) naming the models that do exist."""
        if not self.exists():
            with mlflow_errors("list registered models", self._uri):
                models = [m.name for m in self.connection.client.search_registered_models(max_results=20)]
            raise ModelNotFoundError(
                f"no registered model {self.name!r} in {self._uri} (models: {', '.join(models) or 'none'})",
                "run `mlplatform train` first, or set MODEL_NAME / --model-name / --model-uri",
            )

    def register(self, logged: LoggedModel, run_id: str, tags: dict[str, str], description: str) -> str:
        """Create a new version of the registered model (creating the model if needed)."""
        client = self.connection.client
        if logged.sha256:
            tags = tags | {DIGEST_TAG: logged.sha256}
        if not self.exists():
            with mlflow_errors(f"register {self.name}", self._uri):
                client.create_registered_model(self.name, description=description)
        with mlflow_errors(f"register {self.name}", self._uri):
            version = client.create_model_version(
                self.name, logged.uri, run_id=run_id, tags=tags, await_creation_for=120, model_id=logged.model_id
            )
        return str(version.version)

    def alias_version(self, alias: str) -> str | None:
        """The version an alias points at, or None when the model or the alias does not exist."""
        from mlflow.exceptions import MlflowException

        with mlflow_errors(f"read alias {alias!r}", self._uri):
            try:
                return str(self.connection.client.get_model_version_by_alias(self.name, alias).version)
            except MlflowException as exc:
                if exc.error_code in MISSING:
                    return None
                raise

    def versions(self, limit: int = 50) -> list[VersionInfo]:
        """Newest first, with aliases, tags and the run's holdout metrics."""
        self.require()
        client = self.connection.client
        with mlflow_errors(f"list versions of {self.name}", self._uri):
            # search results do not carry aliases on every backend: take them from the model
            aliases_of: dict[str, list[str]] = {}
            for alias, version in (client.get_registered_model(self.name).aliases or {}).items():
                aliases_of.setdefault(str(version), []).append(alias)
            found = client.search_model_versions(
                f"name='{self.name}'", max_results=limit, order_by=["version_number DESC"]
            )
            infos = []
            for mv in found:
                metrics: dict[str, float] = {}
                if mv.run_id:
                    with contextlib.suppress(Exception):
                        metrics = dict(client.get_run(mv.run_id).data.metrics)
                infos.append(
                    VersionInfo(
                        version=str(mv.version),
                        aliases=tuple(sorted(aliases_of.get(str(mv.version), []))),
                        run_id=mv.run_id,
                        created=datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC),
                        metrics=metrics,
                        tags=dict(mv.tags or {}),
                    )
                )
        return infos

    def require_version(self, version: str) -> None:
        from mlflow.exceptions import MlflowException

        self.require()
        with mlflow_errors(f"read version {version}", self._uri):
            try:
                self.connection.client.get_model_version(self.name, version)
            except MlflowException:
                existing = ", ".join(v.version for v in self.versions()) or "none"
                raise ModelNotFoundError(
                    f"model {self.name!r} has no version {version!r} (versions: {existing})",
                    "pick a version from `mlplatform model list`",
                ) from None

    def history(self) -> list[AliasEvent]:
        self.require()
        with mlflow_errors(f"read the alias history of {self.name}", self._uri):
            tags = self.connection.client.get_registered_model(self.name).tags
        return events_from_tags(dict(tags or {}))

    @contextlib.contextmanager
    def promotion_lock(self) -> Iterator[None]:
        """Serialise read-decide-move of aliases between processes sharing this state dir.

        MLflow alias moves are last-writer-wins; this lock makes the champion read before a
        decision still true when the alias moves (remote registries: see docs/decisions.md).
        """
        if self.lock_dir is None:
            yield
            return
        with exclusive_lock(self.lock_dir / f"{safe_dir(self.name)}.promotion.lock", f"a promotion of {self.name}"):
            yield

    def move_alias(self, alias: str, version: str, action: Action, reason: str) -> AliasEvent:
        """Point `alias` at `version` and record who/when/why as a registered-model tag."""
        events = self.history()
        event = AliasEvent(
            seq=next_seq(events),
            alias=alias,
            version=version,
            previous_version=self.alias_version(alias),
            action=action,
            actor=actor(),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            reason=reason,
        )
        with mlflow_errors(f"move alias {alias!r} to version {version}", self._uri):
            self.connection.client.set_registered_model_alias(self.name, alias, version)
            self.connection.client.set_registered_model_tag(self.name, event.tag_key, event.to_json())
        return event

    def apply_decision(
        self, version: str, decision: PromotionDecision, champion_alias: str, challenger_alias: str
    ) -> AliasEvent:
        """Tag the version with the decision and move the champion or challenger alias."""
        with mlflow_errors(f"record the promotion decision on version {version}", self._uri):
            for key, value in decision.as_tags().items():
                self.connection.client.set_model_version_tag(self.name, version, key, value)
        if decision.promote:
            return self.promote(version, "promote", decision.reason, champion_alias, challenger_alias)
        return self.move_alias(challenger_alias, version, "challenger", decision.reason)

    def promote(
        self, version: str, action: Action, reason: str, champion_alias: str, challenger_alias: str
    ) -> AliasEvent:
        """Make `version` the champion; keep the legacy 'Production' stage in step for old readers."""
        event = self.move_alias(champion_alias, version, action, reason)
        if self.alias_version(challenger_alias) == version:
            with mlflow_errors("clear the challenger alias", self._uri):
                self.connection.client.delete_registered_model_alias(self.name, challenger_alias)
        self._sync_legacy_stage(version)
        return event

    def rollback(self, champion_alias: str, challenger_alias: str, reason: str) -> AliasEvent:
        """Move the champion alias back to the version that held it before the current one."""
        stack = champion_stack(self.history(), champion_alias)
        current = self.alias_version(champion_alias)
        if current is not None and (not stack or stack[-1] != current):
            stack.append(current)  # the alias was moved outside mlplatform
        if len(stack) < 2:
            raise ModelNotFoundError(
                f"no previous {champion_alias!r} version of {self.name!r} to roll back to",
                "promote a specific version with `mlplatform model promote VERSION`",
            )
        return self.promote(stack[-2], "rollback", reason, champion_alias, challenger_alias)

    def _sync_legacy_stage(self, version: str) -> None:
        """Stages are deprecated in MLflow 3 but `models:/name/Production` readers still exist."""
        from mlflow.exceptions import MlflowException

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.connection.client.transition_model_version_stage(
                    self.name, version, LEGACY_STAGE, archive_existing_versions=True
                )
        except MlflowException as exc:
            log.warning("legacy stage %s not set on version %s: %s", LEGACY_STAGE, version, exc.message)
