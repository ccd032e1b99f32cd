"""Model URIs resolved against the registry, and models loaded to score with."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplatform.data.profile import upgrade
from mlplatform.errors import ModelNotFoundError, RegistryError
from mlplatform.registry.mlflow.connection import Connection
from mlplatform.registry.mlflow.errors import mlflow_errors
from mlplatform.registry.uris import ModelRef, parse_model_uri, version_uri
from mlplatform.scoring.prebuilt import Prebuilt

log = logging.getLogger(__name__)
PROFILE_ARTIFACT = "profile/training_profile.json"
DIGEST_TAG = "mlplatform.model_sha256"
ALLOW_PICKLE = "MLPLATFORM_ALLOW_PICKLE_MODELS"


class ModelIntegrityError(RegistryError):
    """A model's files are not what was registered, or would run code when loaded."""


def folder_digest(folder: Path) -> str:
    """SHA-256 over every file of a model folder (relative path and bytes, in path order)."""
    digest = hashlib.sha256()
    # MLflow adds registered_model_meta when a version is downloaded: not part of the model
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "registered_model_meta"):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


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
    feature_kinds: dict[str, str]  # from the signature: string columns are categories
    prebuilt: Prebuilt | None = None  # the forest compiled at training, verified with the model

    @property
    def numeric_features(self) -> list[str]:
        return [name for name, kind in self.feature_kinds.items() if kind == "numeric"]

    @property
    def text_categories(self) -> frozenset[str]:
        """Categorical columns that were text at training (`FeaturePlan.text`): their CSV values
        are kept as written at scoring, never narrowed per batch (`1.50` stays `1.50`)."""
        features = (self.profile or {}).get("features", {})
        return frozenset(name for name, stats in features.items() if stats.get("text"))

    @property
    def label(self) -> str:
        if self.name and self.version:
            return f"{self.name} v{self.version}"
        return self.uri


class ModelLoader:
    def __init__(self, connection: Connection, allow_unverified: bool = False) -> None:
        self.connection = connection
        self.allow_unverified = allow_unverified  # versions without a recorded SHA-256 may load

    @property
    def _uri(self) -> str:
        return self.connection.tracking_uri

    def resolve(self, uri: str) -> ResolvedModel:
        """Load the model behind `uri` (alias, version, legacy stage or run) with its version,
        input columns and training profile; a missing model lists what does exist."""
        name, version, run_id = self.locate(uri)
        load_uri = version_uri(name, version) if name and version else uri
        model, info, prebuilt = self._load(load_uri, self._expected_digest(name, version), with_prebuilt=True)
        if not hasattr(model, "predict"):
            raise ModelNotFoundError(
                f"model {uri} is not a scikit-learn model", "score with a model trained by `mlplatform train`"
            )
        if info.signature is not None:
            kinds = {
                str(spec.name): "categorical" if getattr(spec.type, "name", "") in ("string", "boolean") else "numeric"
                for spec in info.signature.inputs.inputs
            }
        else:
            kinds = {str(c): "numeric" for c in getattr(model, "feature_names_in_", [])}
        return ResolvedModel(uri, name, version, run_id, model, list(kinds), self.profile(run_id), kinds, prebuilt)

    def locate(self, uri: str) -> tuple[str | None, str | None, str | None]:
        """(registered name, version, run id) for a model URI, or ModelNotFoundError."""
        ref = parse_model_uri(uri)
        with mlflow_errors(f"resolve {uri}", self._uri):
            if ref.kind == "run":
                return self._locate_run(uri, ref)
            assert ref.name is not None
            self._require_model(ref.name)
            if ref.kind == "alias":
                return self._locate_alias(ref.name, str(ref.alias))
            return self._locate_version_or_stage(ref)

    def _locate_alias(self, name: str, alias: str) -> tuple[str, str, str | None]:
        from mlflow.exceptions import MlflowException

        client = self.connection.client
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            aliases = client.get_registered_model(name).aliases or {}
            existing = ", ".join(f"@{a} (v{v})" for a, v in sorted(aliases.items())) or "none"
            raise ModelNotFoundError(
                f"model {name!r} has no alias {alias!r} (aliases: {existing})",
                "train and promote a model (mlplatform train), or pass --model-uri models:/NAME/VERSION",
            ) from None
        return name, str(mv.version), mv.run_id

    def _locate_version_or_stage(self, ref: ModelRef) -> tuple[str, str, str | None]:
        name = str(ref.name)
        versions = self.connection.client.search_model_versions(f"name='{name}'")
        if ref.version is not None:
            found = [mv for mv in versions if str(mv.version) == ref.version]
            listing = ", ".join(sorted((str(mv.version) for mv in versions), key=int)) or "none"
            what = f"version {ref.version!r} (versions: {listing})"
        else:
            stage = str(ref.stage).lower()
            found = sorted(
                (mv for mv in versions if (mv.current_stage or "").lower() == stage), key=lambda mv: int(mv.version)
            )[-1:]
            stages = sorted({mv.current_stage for mv in versions if mv.current_stage not in (None, "None")})
            what = f"version in stage {ref.stage!r} (stages in use: {', '.join(stages) or 'none'})"
        if not found:
            raise ModelNotFoundError(f"model {name!r} has no {what}", "pick one from `mlplatform model list`")
        return name, str(found[0].version), found[0].run_id

    def _locate_run(self, uri: str, ref: ModelRef) -> tuple[str | None, str | None, str]:
        from mlflow.exceptions import MlflowException

        run_id = str(ref.run_id)
        client = self.connection.client
        try:
            client.get_run(run_id)
        except MlflowException:
            raise ModelNotFoundError(
                f"run {run_id!r} of {uri} does not exist in {self._uri}", "check the run id in the MLflow UI"
            ) from None
        registered = client.search_model_versions(f"run_id='{run_id}'")
        if registered:
            return registered[0].name, str(registered[0].version), run_id
        return None, None, run_id

    def _require_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        client = self.connection.client
        try:
            client.get_registered_model(name)
        except MlflowException:
            models = [m.name for m in client.search_registered_models(max_results=20)]
            raise ModelNotFoundError(
                f"no registered model {name!r} in {self._uri} (models: {', '.join(models) or 'none'})",
                "run `mlplatform train` first, or set MODEL_NAME / --model-uri",
            ) from None

    def profile(self, run_id: str | None) -> dict[str, Any] | None:
        """The training profile logged with the model's run, if it has one."""
        if run_id is None:
            return None
        try:
            with tempfile.TemporaryDirectory(prefix="mlplatform-profile-") as tmp:
                path = self.connection.client.download_artifacts(run_id, PROFILE_ARTIFACT, tmp)
                with open(path) as handle:
                    return upgrade(dict(json.load(handle)))
        except Exception as exc:  # noqa: BLE001 - any failure means "no profile"
            log.debug("no training profile for run %s: %s", run_id, exc)
            return None

    def load_sklearn(self, model_uri: str) -> Any:
        """A registered version (`models:/name/N`), verified like `resolve` does."""
        ref = parse_model_uri(model_uri)
        return self.load_verified(model_uri, self._expected_digest(ref.name, ref.version))[0]

    def _expected_digest(self, name: str | None, version: str | None) -> str | None:
        if not (name and version):
            return None
        with mlflow_errors(f"read version {version} of {name}", self._uri):
            tags = self.connection.client.get_model_version(name, version).tags or {}
        return tags.get(DIGEST_TAG)

    def load_verified(self, model_uri: str, digest: str | None) -> tuple[Any, Any]:
        """(model, MLflow model info) from a local copy whose files match the SHA-256 recorded
        at registration, in skops format only: whoever can write to the artifact store must not
        be able to run code here (a pickle payload runs when loaded)."""
        model, info, _ = self._load(model_uri, digest)
        return model, info

    def _load(
        self, model_uri: str, digest: str | None, with_prebuilt: bool = False
    ) -> tuple[Any, Any, Prebuilt | None]:
        """`load_verified`, plus (`with_prebuilt`: for scoring) the compiled forest shipped in the
        same verified folder."""
        import mlflow.artifacts
        import mlflow.models
        import mlflow.sklearn

        self.connection.client  # noqa: B018 - sets the tracking and registry URIs
        with (
            tempfile.TemporaryDirectory(prefix="mlplatform-model-") as tmp,
            mlflow_errors(f"load model {model_uri}", self._uri),
        ):
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
            if digest is None and not self.allow_unverified:
                raise ModelIntegrityError(
                    f"model {model_uri} has no SHA-256 recorded at registration, so its files cannot be verified",
                    "re-register it with `mlplatform train`, or set MLPLATFORM_ALLOW_UNVERIFIED_MODELS=true if you "
                    "trust everyone who can write to the registry",
                )
            if digest is None:
                log.warning("loading model %s unverified (allow_unverified_models)", model_uri)
            elif folder_digest(local) != digest:
                raise ModelIntegrityError(
                    f"the files of model {model_uri} do not match the SHA-256 recorded when it was registered",
                    "someone changed the model's artifacts: re-register it from a trusted run, and check who can "
                    "write to the artifact store",
                )
            info = mlflow.models.Model.load(str(local))
            flavor = info.flavors.get("sklearn", {})
            if flavor.get("serialization_format") != "skops" and os.environ.get(ALLOW_PICKLE) != "true":
                raise ModelIntegrityError(
                    f"model {model_uri} is stored as {flavor.get('serialization_format', 'unknown')}, not skops",
                    f"loading a pickle runs its code: re-train with mlplatform, or set {ALLOW_PICKLE}=true if "
                    "you trust everyone who can write to the registry",
                )
            try:
                return mlflow.sklearn.load_model(str(local)), info, Prebuilt.read(local) if with_prebuilt else None
            except Exception as exc:  # skops refuses types the model did not declare, and says why
                if not type(exc).__module__.startswith("skops"):
                    raise
                raise ModelIntegrityError(
                    f"model {model_uri} cannot be loaded safely: {str(exc).strip().splitlines()[0][:300]}",
                    "re-train it with mlplatform (its family declares the types a model may hold)",
                ) from None

    def export(self, name: str, version: str, destination: Path) -> None:
        """Copy a registered version's MLflow model folder to `destination` (SageMaker's model dir)."""
        import mlflow.artifacts

        destination.mkdir(parents=True, exist_ok=True)
        with mlflow_errors(f"export {name} v{version}", self._uri):
            mlflow.artifacts.download_artifacts(
                artifact_uri=version_uri(name, version), dst_path=str(destination), tracking_uri=self._uri
            )
