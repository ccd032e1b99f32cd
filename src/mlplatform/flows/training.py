"""The weekly training pipeline: load -> validate -> fit -> evaluate -> log -> register -> gate."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlplatform import __version__
from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.data.loading import BUILTIN_IRIS, IRIS_TARGET, load_frame
from mlplatform.data.profile import build_profile, data_report_markdown
from mlplatform.data.validation import Task, TrainingData, validate_holdout, validate_training_frame
from mlplatform.errors import ConfigError
from mlplatform.flows.progress import LogReporter, StageTimes, StepReporter
from mlplatform.flows.setup import model_params, model_spec, open_mlflow
from mlplatform.models import Hyperparameters, ModelSpec
from mlplatform.plots import confusion_matrix_png, feature_importance_png, predicted_vs_actual_png, residuals_png
from mlplatform.registry.history import AliasEvent
from mlplatform.registry.mlflow import PROFILE_ARTIFACT, LoggedModel, Mlflow
from mlplatform.registry.promotion import PromotionDecision, decide
from mlplatform.registry.uris import version_uri
from mlplatform.scoring.batch import task_of
from mlplatform.scoring.prebuilt import PREBUILT_DIR, prebuild
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
    task: str = "classification"
    family: str = "random_forest"
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage (`-v` prints them)


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
    times = StageTimes()
    spec, params = model_spec(settings), model_params(settings)
    threads = training.threads_to_use(settings.training_threads, os.cpu_count() or 1, os.getloadavg()[0])
    log.debug("fitting with %d thread(s) (OpenMP/BLAS, threadpoolctl)", threads)

    with progress.step("Load data"), times.stage("load data"):
        loaded = load_frame(settings.train_data, clients)
        validation = load_frame(settings.validation_data, clients) if settings.validation_data else None
    with progress.step("Validate data"), times.stage("validate"):
        target = default_target(settings)
        data = validate(settings, loaded.frame, target)
        given = validate_holdout(validation.frame, target, data) if validation is not None else None
        metric = promotion_metric(settings, data.task)
    with progress.step("Train"), times.stage("fit"), training.thread_limit(threads):
        if given is not None:
            holdout = training.given_holdout(data, given)
        else:
            holdout = training.split(data, settings.test_size, getattr(params, "random_state", None))
        model, fit_seconds = training.fit(spec, params, data, holdout.x_train, holdout.y_train)
    with progress.step("Evaluate"), times.stage("evaluate"), training.thread_limit(threads):
        evaluation = training.evaluate(model, holdout.x_test, holdout.y_test, data)
        metrics = evaluation.all_metrics() | {"training_time_s": fit_seconds}

    with times.stage("open MLflow"):
        mlflow = open_mlflow(settings)
        lineage = Lineage(loaded.source, dataset_digest(data), git_commit())
    with progress.step("Log run to MLflow"), training.thread_limit(threads):
        trained = Trained(spec, params, target, data, holdout, model, evaluation, metrics)
        run_id, artifact_uri, logged_model = _log_training_run(settings, mlflow, trained, loaded.frame, lineage, times)
    with progress.step("Register model"), times.stage("register"):
        version_tags = {"data.digest": lineage.digest, "mlplatform.version": __version__}
        if lineage.commit:
            version_tags["mlplatform.git_commit"] = lineage.commit
        description = f"{spec.title} {'classifier' if data.task == 'classification' else 'regressor'} (mlplatform)."
        version = mlflow.model.register(logged_model, run_id, version_tags, description=description)
    with progress.step("Promotion gate"), times.stage("promotion gate"), training.thread_limit(threads):
        decision, event = _promotion_gate(settings, mlflow, version, trained, metric)

    seconds = time.perf_counter() - started
    log.debug("where train's time went: %s", times.summary(seconds))
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
        seconds=seconds,
        task=data.task,
        family=spec.name,
        stages=dict(times.seconds),
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
    settings: Settings, mlflow: Mlflow, trained: Trained, frame: pd.DataFrame, lineage: Lineage, times: StageTimes
) -> tuple[str, str, LoggedModel]:
    """One MLflow run: params, metrics, dataset lineage, plots, profile and the model (with its
    forest compiled in when the expected daily volume pays for it)."""
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
    block, inner = time.perf_counter(), times.total()
    with mlflow.tracking.run(settings.experiment_name, f"train-{datetime.now(UTC):%Y%m%d-%H%M%S}", run_tags) as run:
        with times.stage("params and metrics"):
            run.log_params(
                trained.params.model_dump()
                | {
                    "model_family": trained.spec.name,
                    "test_size": settings.test_size,
                    "target": trained.target,
                    "data.rows": len(data.labels),
                    "data.features": len(data.feature_names),
                    "data.classes": len(data.classes),
                    "task": data.task,
                    "data.categorical": len(data.plan.categorical),
                    "data.dropped_columns": ",".join(data.plan.dropped)[:490] or None,
                }
            )
            run.log_metrics(trained.metrics | {"data.unlabeled_dropped": data.unlabeled_dropped})
        with times.stage("dataset reference"):
            run.log_dataset(frame, lineage.source, _dataset_name(lineage.source), lineage.digest, trained.target)
        with tempfile.TemporaryDirectory(prefix="mlplatform-") as tmp:
            with times.stage("permutation importance"):
                importance = training.permutation_importance(model, holdout, data, settings.importance_budget_s)
            with times.stage("plots and profile"):
                write_training_artifacts(Path(tmp), trained, importance.values, settings.id_column)
            run.log_params({"importance.rows": importance.rows, "importance.repeats": importance.repeats})
            with times.stage("upload artifacts"):
                run.log_artifacts(Path(tmp))
            compiled = _prebuild(settings, model, Path(tmp) / PREBUILT_DIR, times)
            with times.stage("log model"):
                example_output = model.predict(holdout.x_train.head(5))
                logged = run.log_sklearn_model(model, holdout.x_train, example_output, trained.spec.trusted_types,
                                               compiled)  # fmt: skip
    times.add("open/close run", time.perf_counter() - block - (times.total() - inner))
    return run.run_id, run.artifact_uri, logged


def _prebuild(settings: Settings, model: Any, folder: Path, times: StageTimes) -> Path | None:
    """The forest compiled for scoring, when the expected daily rows pay for it."""
    inference = settings.inference
    daily = inference.daily_rows or (inference.rows if not inference.input else None)
    jobs = inference.predict_jobs
    with times.stage("compile forest"):
        why_not = prebuild(model, folder, daily, jobs if jobs > 0 else os.cpu_count() or 1)
    if why_not is not None:
        log.debug("the forest is not compiled into the model: %s", why_not)
        return None
    return folder


def validate(settings: Settings, frame: pd.DataFrame, target: str) -> TrainingData:
    """The table checked with the settings' column roles; columns left out are said aloud."""
    data = validate_training_frame(
        frame,
        target,
        settings.test_size,
        id_column=settings.id_column,
        drop=tuple(settings.drop_columns),
        categorical=tuple(settings.categorical_columns),
        task=settings.task,
        drop_unlabeled=settings.drop_unlabeled,
    )
    for name, why in data.plan.dropped.items():
        log.warning("column %r is not used as a feature: %s", name, why)
    if data.unlabeled_dropped:
        log.warning("left out %d rows without a label (--drop-unlabeled)", data.unlabeled_dropped)
    return data


def promotion_metric(settings: Settings, task: Task) -> str:
    """The gate's metric: the configured one if it fits the task, else the task's default."""
    metric = settings.promotion.metric or training.DEFAULT_METRIC[task]
    if metric not in training.TASK_METRICS[task]:
        raise ConfigError(
            f"promotion.metric {metric!r} does not apply to {task}",
            f"use one of {', '.join(training.TASK_METRICS[task])} (MLPLATFORM_PROMOTION__METRIC), or leave it unset",
        )
    return metric


def _promotion_gate(
    settings: Settings, mlflow: Mlflow, version: str, trained: Trained, metric: str
) -> tuple[PromotionDecision, AliasEvent]:
    """Champion scored on the candidate's holdout, the decision taken and the alias moved, all
    under the promotion lock so the champion read is still true when the alias moves."""
    promotion = settings.promotion
    with mlflow.model.promotion_lock():
        champion = mlflow.model.alias_version(promotion.champion_alias)
        champion_score = None
        if champion is not None:
            champion_score = _champion_score(mlflow, champion, trained, metric)
        decision = decide(
            trained.metrics[metric],
            champion,
            champion_score,
            metric=metric,
            tolerance=promotion.tolerance,
            auto_promote=promotion.auto_promote,
            higher_is_better=training.HIGHER_IS_BETTER[metric],
        )
        event = mlflow.model.apply_decision(version, decision, promotion.champion_alias, promotion.challenger_alias)
    return decision, event


def write_training_artifacts(folder: Path, trained: Trained, importances: np.ndarray, id_column: str | None) -> None:
    """Plots, feature importances, the profile of the rows the model was fit on (the baseline
    the inference drift check compares against) and a data report people can read."""
    data, holdout, evaluation = trained.data, trained.holdout, trained.evaluation
    (folder / "plots").mkdir()
    (folder / "profile").mkdir()
    if evaluation.confusion is not None:
        confusion_matrix_png(evaluation.confusion, evaluation.classes, folder / "plots" / "confusion_matrix.png",
                             f"Holdout confusion matrix ({data.target})")  # fmt: skip
    else:
        predicted_vs_actual_png(holdout.y_test, evaluation.predicted, folder / "plots" / "predicted_vs_actual.png",
                                data.target)  # fmt: skip
        residuals_png(holdout.y_test, evaluation.predicted, folder / "plots" / "residuals.png", data.target)
    feature_importance_png(data.feature_names, importances, folder / "plots" / "feature_importance.png")
    pd.DataFrame({"feature": data.feature_names, "importance": importances}).sort_values(
        "importance", ascending=False
    ).to_csv(folder / "feature_importance.csv", index=False)
    profile = build_profile(holdout.x_train, data.plan.kinds, holdout.y_train, data.task, target=data.target,
                            id_column=id_column, ignored=list(data.plan.dropped))  # fmt: skip
    (folder / PROFILE_ARTIFACT).write_text(json.dumps(profile, indent=1, default=str))
    (folder / "profile" / "data_report.md").write_text(data_report_markdown(profile, data.plan.dropped))


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
    if task_of(champion) != data.task:
        log.warning("champion v%s is not a %s model", version, data.task)
        return None
    try:
        return training.score(champion, holdout.x_test[expected], holdout.y_test, data, metric)
    except (ValueError, TypeError) as exc:  # e.g. a champion without imputation meets missing values
        log.warning("champion v%s could not score this holdout: %s", version, exc)
        return None


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
