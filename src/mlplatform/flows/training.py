"""The weekly training pipeline: load -> validate -> fit -> evaluate -> log -> register -> gate."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlplatform import __version__
from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.data.loading import BUILTIN_IRIS, IRIS_TARGET, load_frame
from mlplatform.data.profile import build_profile
from mlplatform.data.validation import TrainingData, validate_holdout, validate_training_frame
from mlplatform.flows.progress import LogReporter, StepReporter
from mlplatform.flows.setup import model_params, model_spec, open_mlflow
from mlplatform.models import Hyperparameters, ModelSpec
from mlplatform.plots import confusion_matrix_png, feature_importance_png
from mlplatform.registry.history import AliasEvent
from mlplatform.registry.mlflow import PROFILE_ARTIFACT, LoggedModel, Mlflow
from mlplatform.registry.promotion import PromotionDecision, decide
from mlplatform.registry.uris import version_uri
from mlplatform.training import fit as training

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOutcome:
    run_id: str
    model_name: str
    version: str
    metrics: dict[str, float]
    decision: PromotionDecision
    alias_event: AliasEvent
    tracking_uri: str
    artifact_uri: str
    data_source: str
    rows: int
    seconds: float


def default_target(settings: Settings) -> str:
    """The built-in Iris labels its rows 'species'; user data uses the configured column."""
    if settings.train_data in (None, BUILTIN_IRIS) and "target_column" not in settings.model_fields_set:
        return IRIS_TARGET
    return settings.target_column


def run_training(
    settings: Settings, progress: StepReporter | None = None, clients: Clients | None = None
) -> TrainingOutcome:
    progress = progress or LogReporter()
    clients = clients or Clients()
    started = time.perf_counter()
    spec, params = model_spec(settings), model_params(settings)

    with progress.step("Load data"):
        loaded = load_frame(settings.train_data, clients)
        validation = load_frame(settings.validation_data, clients) if settings.validation_data else None
    with progress.step("Validate data"):
        target = default_target(settings)
        data = validate_training_frame(loaded.frame, target, settings.test_size)
        given = validate_holdout(validation.frame, target, data) if validation is not None else None
    with progress.step("Train"):
        if given is not None:
            holdout = training.given_holdout(data, given)
        else:
            holdout = training.split(data, settings.test_size, getattr(params, "random_state", None))
        model, fit_seconds = training.fit(spec, params, holdout.x_train, holdout.y_train)
    with progress.step("Evaluate"):
        evaluation = training.evaluate(model, holdout.x_test, holdout.y_test, data.classes)
        metrics = evaluation.all_metrics() | {"training_time_s": fit_seconds}

    mlflow = open_mlflow(settings)
    lineage = Lineage(loaded.source, dataset_digest(data), git_commit())
    with progress.step("Log run to MLflow"):
        trained = Trained(spec, params, target, data, holdout, model, evaluation, metrics)
        run_id, artifact_uri, logged_model = _log_training_run(settings, mlflow, trained, loaded.frame, lineage)
    with progress.step("Register model"):
        version_tags = {"data.digest": lineage.digest, "mlplatform.version": __version__}
        if lineage.commit:
            version_tags["mlplatform.git_commit"] = lineage.commit
        description = f"{spec.title} classifier trained by mlplatform."
        version = mlflow.model.register(logged_model, run_id, version_tags, description=description)
    with progress.step("Promotion gate"):
        decision, event = _promotion_gate(settings, mlflow, version, trained)

    return TrainingOutcome(
        run_id=run_id,
        model_name=settings.model_name,
        version=version,
        metrics=metrics,
        decision=decision,
        alias_event=event,
        tracking_uri=mlflow.tracking_uri,
        artifact_uri=artifact_uri,
        data_source=loaded.source,
        rows=len(data.labels),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class Lineage:
    """Where the model came from: the data (source and content digest) and the code (commit)."""

    source: str
    digest: str
    commit: str | None


@dataclass(frozen=True)
class Trained:
    """A fitted model with what it was fitted and evaluated on."""

    spec: ModelSpec
    params: Hyperparameters
    target: str
    data: TrainingData
    holdout: training.Holdout
    model: Any
    evaluation: training.Evaluation
    metrics: dict[str, float]


def _log_training_run(
    settings: Settings, mlflow: Mlflow, trained: Trained, frame: pd.DataFrame, lineage: Lineage
) -> tuple[str, str, LoggedModel]:
    """One MLflow run: params, metrics, dataset lineage, plots, profile and the model."""
    run_tags = {
        "mlplatform.pipeline": "training",
        "mlplatform.version": __version__,
        "mlplatform.env": settings.env,
        "data.source": lineage.source,
        "data.digest": lineage.digest,
    }
    if lineage.commit:
        run_tags |= {"mlplatform.git_commit": lineage.commit, "mlflow.source.git.commit": lineage.commit}
    data, holdout, model = trained.data, trained.holdout, trained.model
    with mlflow.tracking.run(settings.experiment_name, f"train-{datetime.now(UTC):%Y%m%d-%H%M%S}", run_tags) as run:
        run.log_params(
            trained.params.model_dump()
            | {
                "model_family": trained.spec.name,
                "test_size": settings.test_size,
                "target": trained.target,
                "data.rows": len(data.labels),
                "data.features": len(data.feature_names),
                "data.classes": len(data.classes),
            }
        )
        run.log_metrics(trained.metrics)
        run.log_dataset(frame, lineage.source, _dataset_name(lineage.source), lineage.digest, trained.target)
        with tempfile.TemporaryDirectory(prefix="mlplatform-") as tmp:
            write_training_artifacts(Path(tmp), data.feature_names, holdout, model, trained.evaluation)
            run.log_artifacts(Path(tmp))
        example_output = model.predict(holdout.x_train.head(5))
        logged = run.log_sklearn_model(model, holdout.x_train, example_output, trained.spec.trusted_types)
    return run.run_id, run.artifact_uri, logged


def _promotion_gate(
    settings: Settings, mlflow: Mlflow, version: str, trained: Trained
) -> tuple[PromotionDecision, AliasEvent]:
    """Champion scored on the candidate's holdout, the decision taken and the alias moved, all
    under the promotion lock so the champion read is still true when the alias moves."""
    promotion = settings.promotion
    with mlflow.model.promotion_lock():
        champion = mlflow.model.alias_version(promotion.champion_alias)
        champion_score = None
        if champion is not None:
            champion_score = _champion_score(mlflow, champion, trained, promotion.metric)
        decision = decide(
            trained.metrics[promotion.metric],
            champion,
            champion_score,
            metric=promotion.metric,
            tolerance=promotion.tolerance,
            auto_promote=promotion.auto_promote,
        )
        event = mlflow.model.apply_decision(version, decision, promotion.champion_alias, promotion.challenger_alias)
    return decision, event


def write_training_artifacts(
    folder: Path, feature_names: list[str], holdout: training.Holdout, model: Any, evaluation: Any
) -> None:
    """Plots, feature importances, and the profile of the rows the model was fit on (the
    baseline the inference drift check compares against)."""
    (folder / "plots").mkdir()
    (folder / "profile").mkdir()
    confusion_matrix_png(
        evaluation.confusion, evaluation.classes, folder / "plots" / "confusion_matrix.png", "Holdout confusion matrix"
    )
    importances = np.asarray(model.feature_importances_)
    feature_importance_png(feature_names, importances, folder / "plots" / "feature_importance.png")
    pd.DataFrame({"feature": feature_names, "importance": importances}).sort_values(
        "importance", ascending=False
    ).to_csv(folder / "feature_importance.csv", index=False)
    profile = build_profile(holdout.x_train.to_numpy(), feature_names, holdout.y_train)
    (folder / PROFILE_ARTIFACT).write_text(json.dumps(profile, indent=1))


def _champion_score(mlflow: Mlflow, version: str, trained: Trained, metric: str) -> float | None:
    """The champion's score on *this* holdout, or None if it cannot score these features."""
    from mlplatform.errors import MLPlatformError

    data, holdout = trained.data, trained.holdout
    try:
        champion = mlflow.loader.load_sklearn(version_uri(mlflow.model.name, version))
    except MLPlatformError as exc:
        log.warning("champion v%s could not be loaded: %s", version, exc)
        return None
    expected = [str(c) for c in getattr(champion, "feature_names_in_", [])]
    if sorted(expected) != sorted(data.feature_names):
        log.warning("champion v%s was trained on other features: %s", version, ", ".join(expected))
        return None
    return training.score(champion, holdout.x_test[expected], holdout.y_test, data.classes, metric)


def dataset_digest(data: TrainingData) -> str:
    """Content hash of features and labels: same data, same digest, whatever the file name."""
    hasher = hashlib.sha256()
    hasher.update("\x1f".join(data.feature_names).encode())
    hasher.update(pd.util.hash_pandas_object(data.features, index=False).to_numpy().tobytes())
    hasher.update(pd.util.hash_array(np.asarray(data.labels, dtype=object)).tobytes())
    return hasher.hexdigest()[:16]


def git_commit() -> str | None:
    """The commit being trained from: MLPLATFORM_GIT_COMMIT (baked into images), else git."""
    explicit = os.environ.get("MLPLATFORM_GIT_COMMIT")
    if explicit:
        return explicit
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _dataset_name(source: str) -> str:
    return source.rstrip("/").rsplit("/", 1)[-1] or source
