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
from mlplatform.flows.events import emit
from mlplatform.flows.progress import LogReporter, StepReporter
from mlplatform.flows.setup import model_params, model_spec, open_mlflow
from mlplatform.models import Hyperparameters, ModelSpec, auto
from mlplatform.models.auto import AUTO
from mlplatform.monitoring.estimate import fit_calibration
from mlplatform.plots import confusion_matrix_png, feature_importance_png, predicted_vs_actual_png, residuals_png
from mlplatform.registry.history import AliasEvent
from mlplatform.registry.mlflow import PROFILE_ARTIFACT, LoggedModel, Mlflow
from mlplatform.registry.promotion import PromotionDecision, decide
from mlplatform.registry.uris import version_uri
from mlplatform.scoring.batch import task_of
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
    """Train, log, register and gate one model version (the adapters are passed in by tests)."""
    progress = progress or LogReporter()
    clients = clients or Clients()
    started = time.perf_counter()
    spec, params = model_spec(settings), model_params(settings)

    with progress.step("Load data"):
        loaded = load_frame(settings.train_data, clients)
        validation = load_frame(settings.validation_data, clients) if settings.validation_data else None
    with progress.step("Validate data"):
        target = default_target(settings)
        data = validate(settings, loaded.frame, target)
        given = validate_holdout(validation.frame, target, data) if validation is not None else None
        metric = promotion_metric(settings, data.task)
    with progress.step("Train"):
        spec, params, holdout, model, fit_seconds, notes = _fit(settings, spec, params, data, given)
    with progress.step("Evaluate"):
        evaluation = training.evaluate(model, holdout.x_test, holdout.y_test, data)
        metrics = evaluation.all_metrics() | {"training_time_s": fit_seconds}

    mlflow = mlflow or open_mlflow(settings)
    lineage = Lineage(loaded.source, dataset_digest(data), git_commit())
    with progress.step("Log run to MLflow"):
        trained = Trained(spec, params, target, data, holdout, model, evaluation, metrics, notes)
        run_id, artifact_uri, logged_model = _log_training_run(settings, mlflow, trained, loaded.frame, lineage)
    with progress.step("Register model"):
        version_tags = {"data.digest": lineage.digest, "mlplatform.version": __version__}
        if lineage.commit:
            version_tags["mlplatform.git_commit"] = lineage.commit
        description = f"{spec.title} {'classifier' if data.task == 'classification' else 'regressor'} (mlplatform)."
        version = mlflow.model.register(logged_model, run_id, version_tags, description=description)
    with progress.step("Promotion gate"):
        decision, event = _promotion_gate(settings, mlflow, version, trained, metric)
    _emit_training_events(settings, version, run_id, metrics, decision, event, clients)

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
        task=data.task,
        family=spec.name,
    )


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
    notes: dict[str, str] = field(default_factory=dict)  # what training decided on its own


def settle_family(spec: ModelSpec, params: Hyperparameters, rows: int) -> tuple[ModelSpec, Any, dict[str, str]]:
    """`--model auto`: the family for `rows` training rows, and the choice as a note; still
    auto when the data must decide (`training.race`)."""
    if spec.name != AUTO.name or (choice := auto.choose(params, rows)) is None:
        return spec, params, {}
    chosen, chosen_params, why = choice
    return chosen, chosen_params, {"model_family": f"auto chose {chosen.name}: {why}"}


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
                "task": data.task,
                "data.categorical": len(data.plan.categorical),
                "data.dropped_columns": ",".join(data.plan.dropped)[:490] or None,
                "data.datetime": ",".join(data.plan.datetime)[:490] or None,
            }
            | {f"note.{name}": note[:490] for name, note in trained.notes.items()}
        )
        run.log_metrics(trained.metrics | {"data.unlabeled_dropped": data.unlabeled_dropped})
        run.log_dataset(frame, lineage.source, _dataset_name(lineage.source), lineage.digest, trained.target)
        with tempfile.TemporaryDirectory(prefix="mlplatform-") as tmp:
            write_training_artifacts(Path(tmp), trained, settings.id_column)
            run.log_artifacts(Path(tmp))
        example_output = model.predict(holdout.x_train.head(5))
        logged = run.log_sklearn_model(model, holdout.x_train, example_output, trained.spec.trusted_types)
    return run.run_id, run.artifact_uri, logged


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


def _emit_training_events(
    settings: Settings,
    version: str,
    run_id: str,
    metrics: dict[str, float],
    decision: PromotionDecision,
    event: AliasEvent,
    clients: Clients,
) -> None:
    name = settings.model_name
    registered = {"run_id": run_id, "metrics": {k: v for k, v in metrics.items() if not k.startswith("f1_class_")}}
    emit(settings, "version_registered", model=name, version=version, details=registered, clients=clients)
    gate = {"promote": decision.promote, "reason": decision.reason, "alias": event.alias}
    emit(settings, "gate_decided", model=name, version=version, details=gate | decision.as_tags(), clients=clients)
    if decision.promote:
        moved = {"alias": event.alias, "previous_version": event.previous_version, "actor": event.actor}
        emit(
            settings, "promoted", model=name, version=version, details=moved | {"reason": event.reason}, clients=clients
        )


def write_training_artifacts(folder: Path, trained: Trained, id_column: str | None) -> None:
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
    importances = training.permutation_importance(trained.model, holdout, data)
    feature_importance_png(data.feature_names, importances, folder / "plots" / "feature_importance.png")
    pd.DataFrame({"feature": data.feature_names, "importance": importances}).sort_values(
        "importance", ascending=False
    ).to_csv(folder / "feature_importance.csv", index=False)
    profile = build_profile(holdout.x_train, data.plan.kinds, holdout.y_train, data.task, target=data.target,
                            id_column=id_column, ignored=list(data.plan.dropped))  # fmt: skip
    if data.task == "classification":  # the label-free estimate's calibration (monitoring.estimate)
        classes = list(trained.model.classes_)
        truth = pd.Categorical(holdout.y_test, categories=classes).codes
        profile["calibration"] = fit_calibration(trained.model.predict_proba(holdout.x_test), truth)
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
