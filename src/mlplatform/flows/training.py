"""The weekly training pipeline: load -> validate -> fit -> evaluate -> log -> register -> gate."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlplatform import __version__
from mlplatform.clients import Clients
from mlplatform.concurrency import available_cores
from mlplatform.config.settings import Settings
from mlplatform.data.loading import BUILTIN_IRIS, IRIS_TARGET, load_frame
from mlplatform.data.validation import Task, TrainingData, validate_holdout, validate_training_frame
from mlplatform.errors import ConfigError
from mlplatform.flows.progress import LogReporter, StageTimes, StepReporter
from mlplatform.flows.setup import model_params, model_spec, open_mlflow
from mlplatform.flows.training_gate import emit_training_events, promotion_gate
from mlplatform.flows.training_record import Lineage, Trained, log_training_run
from mlplatform.models import Hyperparameters, ModelSpec, auto
from mlplatform.models.auto import AUTO
from mlplatform.registry.history import AliasEvent
from mlplatform.registry.mlflow import LoggedModel, Mlflow
from mlplatform.registry.promotion import PromotionDecision
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


def default_target(settings: Settings) -> str:
    """The built-in Iris labels its rows 'species'; user data uses the configured column."""
    if settings.train_data in (None, BUILTIN_IRIS) and "target_column" not in settings.model_fields_set:
        return IRIS_TARGET
    return settings.target_column


def run_training(
    settings: Settings,
    progress: StepReporter | None = None,
    clients: Clients | None = None,
    mlflow: Mlflow | None = None,
) -> TrainingOutcome:
    """Train, log, register and gate one model version (the adapters are passed in by tests);
    every stage timed (`-v` prints where the time went)."""
    progress, clients = progress or LogReporter(), clients or Clients()
    started, times = time.perf_counter(), StageTimes()
    spec, params = model_spec(settings), model_params(settings)
    threads = training.threads_to_use(settings.training_threads, available_cores(), os.getloadavg()[0])
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
        spec, params, holdout, model, fit_seconds, notes = _fit(settings, spec, params, data, given)
    with progress.step("Evaluate"), times.stage("evaluate"), training.thread_limit(threads):
        evaluation = training.evaluate(model, holdout.x_test, holdout.y_test, data)
        metrics = evaluation.all_metrics() | {"training_time_s": fit_seconds}
    with times.stage("open MLflow"):
        mlflow = mlflow or open_mlflow(settings)
        lineage = Lineage(loaded.source, dataset_digest(data), git_commit())
    with progress.step("Log run to MLflow"), training.thread_limit(threads):
        trained = Trained(spec, params, target, data, holdout, model, evaluation, metrics, notes)
        run_id, artifact_uri, logged_model = log_training_run(settings, mlflow, trained, loaded.frame, lineage, times)
    with progress.step("Register model"), times.stage("register"):
        version = _register(mlflow, logged_model, run_id, lineage, trained)
    with progress.step("Promotion gate"), times.stage("promotion gate"), training.thread_limit(threads):
        decision, event = promotion_gate(settings, mlflow, version, trained, metric)
    emit_training_events(settings, version, run_id, metrics, decision, event, clients)
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
    )


def _register(mlflow: Mlflow, logged: LoggedModel, run_id: str, lineage: Lineage, trained: Trained) -> str:
    tags = {"data.digest": lineage.digest, "mlplatform.version": __version__}
    if lineage.commit:
        tags["mlplatform.git_commit"] = lineage.commit
    kind = "classifier" if trained.data.task == "classification" else "regressor"
    return mlflow.model.register(logged, run_id, tags, description=f"{trained.spec.title} {kind} (mlplatform).")


def _fit(
    settings: Settings, spec: ModelSpec, params: Hyperparameters, data: TrainingData, given: TrainingData | None
) -> tuple[ModelSpec, Hyperparameters, training.Holdout, Any, float, dict[str, str]]:
    """The family settled (auto: by size, or a race on the training split), the split, the fit,
    and the notes the run records about choices made."""
    rows = len(data.labels) if given is not None else training.train_rows(len(data.labels), settings.test_size)
    spec, params, chosen = settle_family(spec, params, rows)  # before the split: it seeds it
    if given is not None:
        holdout = training.given_holdout(data, given)
    else:
        holdout = training.split(data, settings.test_size, getattr(params, "random_state", auto.SEED))
    if spec.name == AUTO.name:  # a small table: the candidates compared on the training split
        spec, params, why = training.race(auto.CANDIDATES, data, holdout.x_train, holdout.y_train, auto.SEED)
        chosen = {"model_family": f"auto chose {spec.name}: {why}"}
    model, fit_seconds = training.fit(spec, params, data, holdout.x_train, holdout.y_train)
    notes = chosen | training.training_notes(spec, params, data, model, len(holdout.x_train))
    for name, note in notes.items():
        log.info("%s: %s", name, note)
    return spec, params, holdout, model, fit_seconds, notes


def settle_family(spec: ModelSpec, params: Hyperparameters, rows: int) -> tuple[ModelSpec, Any, dict[str, str]]:
    """`--model auto`: the family for `rows` training rows, and the choice as a note; still
    auto when the data must decide (`training.race`)."""
    if spec.name != AUTO.name or (choice := auto.choose(params, rows)) is None:
        return spec, params, {}
    chosen, chosen_params, why = choice
    return chosen, chosen_params, {"model_family": f"auto chose {chosen.name}: {why}"}


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
