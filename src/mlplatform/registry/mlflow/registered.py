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
from mlplatform.registry.history import (
    PENDING_PROMOTION_TAG,
    Action,
    AliasEvent,
    PromotionIntent,
    champion_stack,
    events_from_tags,
    next_seq,
)
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


def registered_names(connection: Connection, limit: int = 500) -> list[str]:
    """Every registered model's name in the registry, sorted."""
    with mlflow_errors("list the registered models", connection.tracking_uri):
        return sorted(model.name for model in connection.client.search_registered_models(max_results=limit))


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

    def retire(self, version: str, champion_alias: str, delete: bool) -> list[str]:
        """Archive `version` (its aliases removed, tagged archived, legacy stage Archived) or delete
        it; the champion is refused. Call under `promotion_lock`. Returns the aliases it lost."""
        from mlplatform.errors import BadInputError

        self.require_version(version)
        if self.alias_version(champion_alias) == version:
            raise BadInputError(
                f"version {version} of {self.name!r} is the champion ({champion_alias})",
                "promote or roll back to another version first",
            )
        client = self.connection.client
        with mlflow_errors(f"retire version {version} of {self.name}", self._uri):
            aliases = list(client.get_model_version(self.name, version).aliases or [])
            for alias in aliases:
                client.delete_registered_model_alias(self.name, alias)
            if delete:
                client.delete_model_version(self.name, version)
            else:
                client.set_model_version_tag(self.name, version, "mlplatform.archived", "true")
        if not delete:
            self._set_legacy_stage(version, "Archived")
        return aliases

    def training_inputs(self, version: str) -> dict[str, str]:
        """What the version was trained on: its run's `data.source` tag and `target` param."""
        client = self.connection.client
        with mlflow_errors(f"read the training run of version {version}", self._uri):
            run_id = client.get_model_version(self.name, version).run_id
            if not run_id:
                return {}
            run = client.get_run(run_id)
        found = {"data.source": run.data.tags.get("data.source"), "target": run.data.params.get("target")}
        return {key: value for key, value in found.items() if value}

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
    def promotion_lock(self) -> Iterator[PromotionIntent | None]:
        """Serialise read-decide-move of aliases between processes sharing this state dir, after
        finishing any promotion a killed process left half-done (yielded: the one finished).

        MLflow alias moves are last-writer-wins; this lock makes the champion read before a
        decision still true when the alias moves (remote registries: see docs/decisions.md).
        """
        if self.lock_dir is None:
            yield self.finish_interrupted() if self.exists() else None
            return
        with exclusive_lock(self.lock_dir / f"{safe_dir(self.name)}.promotion.lock", f"a promotion of {self.name}"):
            yield self.finish_interrupted() if self.exists() else None

    def move_alias(self, alias: str, version: str, action: Action, reason: str) -> AliasEvent:
        """Point `alias` at `version` and record who/when/why as a registered-model tag."""
        return self._carry_out(self._intent(version, alias, action, reason))

    def apply_decision(
        self, version: str, decision: PromotionDecision, champion_alias: str, challenger_alias: str
    ) -> AliasEvent:
        """Tag the version with the decision and move the champion or challenger alias."""
        tags = decision.as_tags()
        if decision.promote:
            intent = self._intent(version, champion_alias, "promote", decision.reason, tags, challenger_alias, True)
        else:
            intent = self._intent(version, challenger_alias, "challenger", decision.reason, tags)
        return self._carry_out(intent)

    def promote(
        self, version: str, action: Action, reason: str, champion_alias: str, challenger_alias: str
    ) -> AliasEvent:
        """Make `version` the champion; keep the legacy 'Production' stage in step for old readers."""
        return self._carry_out(self._intent(version, champion_alias, action, reason, {}, challenger_alias, True))

    def finish_interrupted(self) -> PromotionIntent | None:
        """Complete the promotion a killed process left half-done (its intent is still recorded);
        returns it, or None when there was none."""
        with mlflow_errors(f"read the pending promotion of {self.name}", self._uri):
            text = (self.connection.client.get_registered_model(self.name).tags or {}).get(PENDING_PROMOTION_TAG)
        if not text:
            return None
        try:
            intent = PromotionIntent.from_json(text)
        except (ValueError, TypeError):
            log.warning("dropping an unreadable pending promotion of %s: %s", self.name, text[:200])
            self._clear_intent()
            return None
        log.warning("finishing the interrupted %s of %s v%s (%s)", intent.action, self.name, intent.version, intent.at)
        self._complete(intent)
        self._clear_intent()
        return intent

    def _intent(
        self,
        version: str,
        alias: str,
        action: Action,
        reason: str,
        decision_tags: dict[str, str] | None = None,
        clears: str | None = None,
        legacy_stage: bool = False,
    ) -> PromotionIntent:
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        previous = self.alias_version(alias)
        return PromotionIntent(
            version, alias, previous, action, actor(), at, reason, decision_tags or {}, clears, legacy_stage
        )

    def _carry_out(self, intent: PromotionIntent) -> AliasEvent:
        """Record the intent, do every step, then clear it: killed anywhere in between, the next
        `promotion_lock` (a training gate, a promote, a rollback, `mlplatform check`) finishes it."""
        with mlflow_errors(f"record the promotion of version {intent.version}", self._uri):
            self.connection.client.set_registered_model_tag(self.name, PENDING_PROMOTION_TAG, intent.to_json())
        event = self._complete(intent)
        self._clear_intent()
        return event

    def _complete(self, intent: PromotionIntent) -> AliasEvent:
        client = self.connection.client
        with mlflow_errors(f"move alias {intent.alias!r} to version {intent.version}", self._uri):
            for key, value in intent.decision_tags.items():
                client.set_model_version_tag(self.name, intent.version, key, value)
            client.set_registered_model_alias(self.name, intent.alias, intent.version)
            events = self.history()
            event = intent.recorded_in(events)
            if event is None:
                event = intent.event(next_seq(events))
                client.set_registered_model_tag(self.name, event.tag_key, event.to_json())
            if intent.clears and self.alias_version(intent.clears) == intent.version:
                client.delete_registered_model_alias(self.name, intent.clears)
        if intent.legacy_stage:
            self._set_legacy_stage(intent.version, LEGACY_STAGE, archive_existing=True)
        return event

    def _clear_intent(self) -> None:
        with mlflow_errors(f"clear the pending promotion of {self.name}", self._uri):
            self.connection.client.delete_registered_model_tag(self.name, PENDING_PROMOTION_TAG)

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

    def _set_legacy_stage(self, version: str, stage: str, archive_existing: bool = False) -> None:
        """Stages are deprecated in MLflow 3 but `models:/name/Production` readers still exist;
        a registry without stages (SageMaker's, Unity Catalog) gets a warning, not a failure."""
        from mlflow.exceptions import MlflowException

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.connection.client.transition_model_version_stage(
                    self.name, version, stage, archive_existing_versions=archive_existing
                )
        except MlflowException as exc:
            log.warning("legacy stage %s not set on version %s: %s", stage, version, exc.message)
