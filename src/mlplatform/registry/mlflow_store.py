"""Everything that talks to MLflow: runs, model registration, aliases, loading models.

MLflow and HTTP failures are wrapped here into RegistryError / ModelNotFoundError, so the rest
of the code never handles an MlflowException.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import logging
import os
import re
import socket
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplatform.errors import ConfigError, ModelNotFoundError, RegistryError
from mlplatform.registry.history import Action, AliasEvent, champion_stack, events_from_tags, next_seq
from mlplatform.registry.promotion import PromotionDecision

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlplatform.settings import Settings

log = logging.getLogger(__name__)
LEGACY_STAGE = "Production"


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version as `mlplatform model list` shows it."""

    version: str
    aliases: tuple[str, ...]
    run_id: str | None
    created: datetime
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to score with, and the registry facts stamped on what it produces."""

    uri: str
    name: str | None
    version: str | None
    run_id: str | None
    model: Any
    feature_names: list[str]
    profile: dict[str, Any] | None

    @property
    def label(self) -> str:
        if self.name and self.version:
            return f"{self.name} v{self.version}"
        return self.uri


_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_REF_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<ref>[^/]+)$")
_RUN_URI = re.compile(r"^runs:/(?P<run>[^/]+)/(?P<path>.+)$")
PROFILE_ARTIFACT = "profile/training_profile.json"


@dataclass(frozen=True)
class LoggedModel:
    """A model logged in a run (MLflow 3 gives it an id of its own: models:/m-...)."""

    uri: str
    model_id: str | None


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


def is_sagemaker_arn(uri: str) -> bool:
    return uri.startswith("arn:aws:sagemaker:")


@contextlib.contextmanager
def mlflow_errors(action: str, tracking_uri: str) -> Iterator[None]:
    """Turn MLflow/HTTP failures during `action` into a RegistryError naming the server."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        message = (exc.message or str(exc)).strip().splitlines()[0]
        if "unsupported URI" in message or "Could not find a registered" in message:
            raise RegistryError(
                f"cannot {action}: tracking URI {tracking_uri} is not supported ({message})",
                "for a SageMaker MLflow ARN install the AWS extra: pip install 'mlplatform[aws]'",
            ) from None
        raise RegistryError(f"cannot {action} at {tracking_uri}: {message}", _fix_for(tracking_uri)) from None
    except OSError as exc:  # requests' ConnectionError is an OSError
        raise RegistryError(
            f"cannot {action}: MLflow at {tracking_uri} is unreachable ({type(exc).__name__})",
            _fix_for(tracking_uri),
        ) from None


def _fix_for(tracking_uri: str) -> str:
    if tracking_uri.startswith("sqlite:"):
        return "check that the state directory (MLPLATFORM_HOME) is writable and not on a network share"
    return "check MLFLOW_TRACKING_URI and that the server is up (mlplatform check)"


class MlflowRegistry:
    """One tracking URI and one registered model name; receives settings, holds a client."""

    def __init__(
        self,
        tracking_uri: str,
        model_name: str,
        *,
        artifact_root: Path | None = None,
        lock_dir: Path | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.artifact_root = artifact_root
        self.lock_dir = lock_dir
        self._client: MlflowClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> MlflowRegistry:
        embedded = settings.uses_embedded_store
        if embedded:
            settings.state_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings.resolved_tracking_uri,
            settings.model_name,
            artifact_root=settings.artifact_root if embedded else None,
            lock_dir=settings.state_dir / "locks",
        )

    # -- connection -------------------------------------------------------------------------

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self.check_reachable()
            import mlflow
            from mlflow import MlflowClient

            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.tracking_uri)
            with mlflow_errors("open the tracking store", self.tracking_uri):
                self._client = MlflowClient(self.tracking_uri, self.tracking_uri)
        return self._client

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Fail in seconds, not after MLflow's minutes of retries, when a server is down."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            if is_sagemaker_arn(self.tracking_uri):
                _require_sagemaker_plugin(self.tracking_uri)
            return
        import requests

        url = self.tracking_uri.rstrip("/") + "/health"
        try:
            response = requests.get(url, timeout=timeout)
        except requests.RequestException as exc:
            raise RegistryError(
                f"MLflow at {self.tracking_uri} is unreachable ({type(exc).__name__})",
                "start the server or fix MLFLOW_TRACKING_URI",
            ) from None
        if response.status_code >= 400:
            raise RegistryError(
                f"MLflow at {self.tracking_uri} answered HTTP {response.status_code} on /health",
                "check the URL, credentials, and the server's --allowed-hosts",
            )

    # -- runs -------------------------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        with mlflow_errors(f"open experiment {name!r}", self.tracking_uri):
            experiment = self.client.get_experiment_by_name(name)
            if experiment is not None:
                if experiment.lifecycle_stage == "deleted":
                    self.client.restore_experiment(experiment.experiment_id)
                return experiment.experiment_id
            location = None
            if self.artifact_root is not None:
                location = (self.artifact_root / _safe_dir(name)).as_uri()
            return self.client.create_experiment(name, artifact_location=location)

    @contextlib.contextmanager
    def run(self, experiment: str, run_name: str, tags: dict[str, str]) -> Iterator[RunLogger]:
        """An active MLflow run; marked FAILED (not left RUNNING) when the block raises."""
        import mlflow

        experiment_id = self.experiment_id(experiment)
        with mlflow_errors("start a run", self.tracking_uri):
            active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags)
        status = "FAILED"
        try:
            yield RunLogger(active.info.run_id, active.info.artifact_uri, self.tracking_uri)
            status = "FINISHED"
        finally:
            with mlflow_errors("end the run", self.tracking_uri):
                mlflow.end_run(status=status)

    # -- registry ---------------------------------------------------------------------------

    def register(self, logged: LoggedModel, run_id: str, tags: dict[str, str], description: str) -> str:
        """Create a new version of the registered model (creating the model if needed)."""
        from mlflow.exceptions import MlflowException

        with mlflow_errors(f"register {self.model_name}", self.tracking_uri):
            try:
                self.client.get_registered_model(self.model_name)
            except MlflowException:
                self.client.create_registered_model(self.model_name, description=description)
            version = self.client.create_model_version(
                self.model_name,
                logged.uri,
                run_id=run_id,
                tags=tags,
                await_creation_for=120,
                model_id=logged.model_id,
            )
        return str(version.version)

    def alias_version(self, alias: str) -> str | None:
        """The version an alias points at, or None when the model or the alias does not exist."""
        from mlflow.exceptions import MlflowException

        with mlflow_errors(f"read alias {alias!r}", self.tracking_uri):
            try:
                return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
            except MlflowException as exc:
                if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
                    return None
                raise

    def versions(self, limit: int = 50) -> list[VersionInfo]:
        """Newest first, with aliases, tags and the run's holdout metrics."""
        from mlflow.exceptions import MlflowException

        with mlflow_errors(f"list versions of {self.model_name}", self.tracking_uri):
            try:
                alias_map = self.client.get_registered_model(self.model_name).aliases or {}
            except MlflowException:
                return []
            # search results do not carry aliases on every backend: take them from the model
            aliases_of: dict[str, list[str]] = {}
            for alias, version in alias_map.items():
                aliases_of.setdefault(str(version), []).append(alias)
            found = self.client.search_model_versions(
                f"name='{self.model_name}'", max_results=limit, order_by=["version_number DESC"]
            )
            infos = []
            for mv in found:
                metrics: dict[str, float] = {}
                if mv.run_id:
                    with contextlib.suppress(Exception):
                        metrics = dict(self.client.get_run(mv.run_id).data.metrics)
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

        with mlflow_errors(f"read version {version}", self.tracking_uri):
            try:
                self.client.get_model_version(self.model_name, version)
            except MlflowException:
                existing = ", ".join(v.version for v in self.versions()) or "none"
                raise ModelNotFoundError(
                    f"model {self.model_name!r} has no version {version!r} (versions: {existing})",
                    "pick a version from `mlplatform model list`",
                ) from None

    def history(self) -> list[AliasEvent]:
        from mlflow.exceptions import MlflowException

        with mlflow_errors(f"read the alias history of {self.model_name}", self.tracking_uri):
            try:
                tags = self.client.get_registered_model(self.model_name).tags
            except MlflowException:
                return []
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
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_dir / f"{_safe_dir(self.model_name)}.promotion.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def move_alias(self, alias: str, version: str, action: Action, reason: str) -> AliasEvent:
        """Point `alias` at `version` and record who/when/why as a registered-model tag."""
        events = self.history()
        previous = self.alias_version(alias)
        event = AliasEvent(
            seq=next_seq(events),
            alias=alias,
            version=version,
            previous_version=previous,
            action=action,
            actor=actor(),
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            reason=reason,
        )
        with mlflow_errors(f"move alias {alias!r} to version {version}", self.tracking_uri):
            self.client.set_registered_model_alias(self.model_name, alias, version)
            self.client.set_registered_model_tag(self.model_name, event.tag_key, event.to_json())
        return event

    def apply_decision(
        self, version: str, decision: PromotionDecision, champion_alias: str, challenger_alias: str
    ) -> AliasEvent:
        """Tag the version with the decision and move the champion or challenger alias."""
        with mlflow_errors(f"record the promotion decision on version {version}", self.tracking_uri):
            for key, value in decision.as_tags().items():
                self.client.set_model_version_tag(self.model_name, version, key, value)
        if decision.promote:
            return self.promote(version, "promote", decision.reason, champion_alias, challenger_alias)
        return self.move_alias(challenger_alias, version, "challenger", decision.reason)

    def promote(
        self, version: str, action: Action, reason: str, champion_alias: str, challenger_alias: str
    ) -> AliasEvent:
        """Make `version` the champion; keep the legacy 'Production' stage in step for old readers."""
        event = self.move_alias(champion_alias, version, action, reason)
        if self.alias_version(challenger_alias) == version:
            with mlflow_errors("clear the challenger alias", self.tracking_uri):
                self.client.delete_registered_model_alias(self.model_name, challenger_alias)
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
                f"no previous {champion_alias!r} version of {self.model_name!r} to roll back to",
                "promote a specific version with `mlplatform model promote VERSION`",
            )
        return self.promote(stack[-2], "rollback", reason, champion_alias, challenger_alias)

    def _sync_legacy_stage(self, version: str) -> None:
        """Stages are deprecated in MLflow 3 but `models:/name/Production` readers still exist."""
        from mlflow.exceptions import MlflowException

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                self.client.transition_model_version_stage(
                    self.model_name, version, LEGACY_STAGE, archive_existing_versions=True
                )
        except MlflowException as exc:
            log.warning("legacy stage %s not set on version %s: %s", LEGACY_STAGE, version, exc.message)

    # -- models -----------------------------------------------------------------------------

    def resolve(self, uri: str) -> ResolvedModel:
        """Load the model behind `uri` (alias, version, legacy stage or run) with its version,
        input columns and training profile; a missing model lists what does exist."""
        name, version, run_id = self._locate(uri)
        load_uri = f"models:/{name}/{version}" if name and version else uri
        import mlflow.models

        with mlflow_errors(f"load model {uri}", self.tracking_uri):
            info = mlflow.models.get_model_info(load_uri)
            model = self.load_sklearn(load_uri)
        if not hasattr(model, "predict_proba"):
            raise ModelNotFoundError(
                f"model {uri} is not a scikit-learn classifier with predict_proba",
                "score with a model trained by `mlplatform train`",
            )
        if info.signature is not None:
            feature_names = [str(name_) for name_ in info.signature.inputs.input_names()]
        else:
            feature_names = [str(c) for c in getattr(model, "feature_names_in_", [])]
        return ResolvedModel(uri, name, version, run_id, model, feature_names, self._profile(run_id))

    def _locate(self, uri: str) -> tuple[str | None, str | None, str | None]:
        """(registered name, version, run id) for a model URI, or ModelNotFoundError."""
        from mlflow.exceptions import MlflowException

        with mlflow_errors(f"resolve {uri}", self.tracking_uri):
            if match := _ALIAS_URI.match(uri):
                name, alias = match["name"], match["alias"]
                self._require_model(name)
                try:
                    mv = self.client.get_model_version_by_alias(name, alias)
                except MlflowException:
                    aliases = self.client.get_registered_model(name).aliases or {}
                    existing = ", ".join(f"@{a} (v{v})" for a, v in sorted(aliases.items())) or "none"
                    raise ModelNotFoundError(
                        f"model {name!r} has no alias {alias!r} (aliases: {existing})",
                        "train and promote a model (mlplatform train), or pass --model-uri models:/NAME/VERSION",
                    ) from None
                return name, str(mv.version), mv.run_id
            if match := _REF_URI.match(uri):
                name, ref = match["name"], match["ref"]
                self._require_model(name)
                versions = self.client.search_model_versions(f"name='{name}'")
                if ref.isdigit():
                    found = [mv for mv in versions if str(mv.version) == ref]
                    listing = ", ".join(sorted((str(mv.version) for mv in versions), key=int)) or "none"
                    what = f"version {ref!r} (versions: {listing})"
                else:
                    found = sorted(
                        (mv for mv in versions if (mv.current_stage or "").lower() == ref.lower()),
                        key=lambda mv: int(mv.version),
                    )[-1:]
                    stages = sorted({mv.current_stage for mv in versions if mv.current_stage not in (None, "None")})
                    what = f"version in stage {ref!r} (stages in use: {', '.join(stages) or 'none'})"
                if not found:
                    raise ModelNotFoundError(f"model {name!r} has no {what}", "pick one from `mlplatform model list`")
                return name, str(found[0].version), found[0].run_id
            if match := _RUN_URI.match(uri):
                run_id = match["run"]
                try:
                    self.client.get_run(run_id)
                except MlflowException:
                    raise ModelNotFoundError(
                        f"run {run_id!r} of {uri} does not exist in {self.tracking_uri}",
                        "check the run id in the MLflow UI",
                    ) from None
                registered = self.client.search_model_versions(f"run_id='{run_id}'")
                if registered:
                    return registered[0].name, str(registered[0].version), run_id
                return None, None, run_id
        raise ModelNotFoundError(
            f"unsupported model URI {uri!r}",
            "use models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/STAGE or runs:/RUN_ID/PATH",
        )

    def _require_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            models = [m.name for m in self.client.search_registered_models(max_results=20)]
            raise ModelNotFoundError(
                f"no registered model {name!r} in {self.tracking_uri} (models: {', '.join(models) or 'none'})",
                "run `mlplatform train` first, or set MODEL_NAME / --model-uri",
            ) from None

    def _profile(self, run_id: str | None) -> dict[str, Any] | None:
        """The training profile logged with the model's run, if it has one."""
        if run_id is None:
            return None
        try:
            with tempfile.TemporaryDirectory(prefix="mlplatform-profile-") as tmp:
                path = self.client.download_artifacts(run_id, PROFILE_ARTIFACT, tmp)
                with open(path) as handle:
                    return dict(json.load(handle))
        except Exception as exc:  # noqa: BLE001 - any failure means "no profile"
            log.debug("no training profile for run %s: %s", run_id, exc)
            return None

    def load_sklearn(self, model_uri: str) -> Any:
        import mlflow.sklearn

        with mlflow_errors(f"load model {model_uri}", self.tracking_uri):
            self.client  # noqa: B018 - sets the tracking and registry URIs
            return mlflow.sklearn.load_model(model_uri)


class RunLogger:
    """What a pipeline may do inside an active run."""

    def __init__(self, run_id: str, artifact_uri: str, tracking_uri: str) -> None:
        self.run_id = run_id
        self.artifact_uri = artifact_uri
        self.tracking_uri = tracking_uri

    def log_params(self, params: dict[str, Any]) -> None:
        import mlflow

        with mlflow_errors("log parameters", self.tracking_uri):
            mlflow.log_params({k: "None" if v is None else v for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float]) -> None:
        import mlflow

        with mlflow_errors("log metrics", self.tracking_uri):
            mlflow.log_metrics(metrics)

    def set_tags(self, tags: dict[str, str]) -> None:
        import mlflow

        with mlflow_errors("set run tags", self.tracking_uri):
            mlflow.set_tags(tags)

    def log_artifacts(self, local_dir: Path, artifact_path: str | None = None) -> None:
        import mlflow

        with mlflow_errors("upload artifacts", self.tracking_uri):
            mlflow.log_artifacts(str(local_dir), artifact_path)

    def log_dataset(self, frame: Any, source: str, name: str, digest: str, targets: str) -> None:
        """Dataset lineage in MLflow's own format (shown in the UI's Datasets column)."""
        import mlflow
        from mlflow.data.pandas_dataset import from_pandas

        with mlflow_errors("log the dataset", self.tracking_uri), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset_source: Any = source
            if "://" not in source and not source.startswith("/"):
                from mlflow.data.code_dataset_source import CodeDatasetSource

                dataset_source = CodeDatasetSource(tags={"mlplatform.source": source})
            dataset = from_pandas(frame, source=dataset_source, name=name, targets=targets, digest=digest)
            mlflow.log_input(dataset, context="training")

    def log_sklearn_model(self, model: Any, input_example: Any, output_example: Any) -> LoggedModel:
        """Log with signature and input example; requirements pinned to what is installed.

        Passing pip_requirements skips MLflow's requirement inference, which costs ~3 s.
        """
        import mlflow.sklearn
        from mlflow.models import infer_signature

        signature = infer_signature(input_example, output_example)
        with mlflow_errors("log the model", self.tracking_uri), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=input_example.head(5),
                pip_requirements=_pinned_requirements(),
                serialization_format="skops",
                skops_trusted_types=["sklearn.tree._tree.Tree"],
            )
        return LoggedModel(info.model_uri, info.model_id)


def _pinned_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "skops", "numpy", "pandas")]


def _require_sagemaker_plugin(uri: str) -> None:
    import importlib.util

    if importlib.util.find_spec("sagemaker_mlflow") is None:
        raise ConfigError(
            f"tracking URI {uri} is a SageMaker MLflow ARN but the sagemaker-mlflow plugin is missing",
            "install the AWS extra: uv sync --extra aws (or pip install 'mlplatform[aws]')",
        )


def _safe_dir(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
