"""The training run's record in MLflow: params, metrics, a dataset reference, plots, the profile
(with the label-free estimate's calibration), feature importances, and the model itself (with
its forest compiled in when that pays)."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlplatform import __version__
from mlplatform.concurrency import available_cores
from mlplatform.config.settings import Settings
from mlplatform.data.profile import build_profile, data_report_markdown
from mlplatform.data.validation import TrainingData
from mlplatform.flows.progress import StageTimes
from mlplatform.models import Hyperparameters, ModelSpec
from mlplatform.monitoring.estimate import fit_calibration
from mlplatform.plots import confusion_matrix_png, feature_importance_png, predicted_vs_actual_png, residuals_png
from mlplatform.registry.mlflow import PROFILE_ARTIFACT, LoggedModel, Mlflow, RunLogger
from mlplatform.scoring.prebuilt import PREBUILT_DIR, prebuild
from mlplatform.training import fit as training

log = logging.getLogger(__name__)


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


def log_training_run(
    settings: Settings, mlflow: Mlflow, trained: Trained, frame: pd.DataFrame, lineage: Lineage, times: StageTimes
) -> tuple[str, str, LoggedModel]:
    """One MLflow run: params, metrics, a dataset reference, plots, profile and the model (with its
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
    block, inner = time.perf_counter(), times.total()
    with mlflow.tracking.run(settings.experiment_name, f"train-{datetime.now(UTC):%Y%m%d-%H%M%S}", run_tags) as run:
        with times.stage("params and metrics"):
            run.log_params(_params(settings, trained))
            run.log_metrics(trained.metrics | {"data.unlabeled_dropped": trained.data.unlabeled_dropped})
        with times.stage("dataset reference"):
            run.log_dataset(frame, lineage.source, _dataset_name(lineage.source), lineage.digest, trained.target)
        logged = _log_artifacts_and_model(settings, run, trained, times)
    times.add("open/close run", time.perf_counter() - block - (times.total() - inner))
    return run.run_id, run.artifact_uri, logged


def _params(settings: Settings, trained: Trained) -> dict[str, Any]:
    data = trained.data
    return (
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


def _log_artifacts_and_model(settings: Settings, run: RunLogger, trained: Trained, times: StageTimes) -> LoggedModel:
    data, holdout, model = trained.data, trained.holdout, trained.model
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
            return run.log_sklearn_model(model, holdout.x_train, example_output, trained.spec.trusted_types, compiled)


def _prebuild(settings: Settings, model: Any, folder: Path, times: StageTimes) -> Path | None:
    """The forest compiled for scoring, when the expected daily rows pay for it."""
    inference = settings.inference
    daily = inference.daily_rows or (inference.rows if not inference.input else None)
    jobs = inference.predict_jobs
    with times.stage("compile forest"):
        why_not = prebuild(model, folder, daily, jobs if jobs > 0 else available_cores())
    if why_not is not None:
        log.debug("the forest is not compiled into the model: %s", why_not)
        return None
    return folder


def write_training_artifacts(folder: Path, trained: Trained, importances: np.ndarray, id_column: str | None) -> None:
    """Plots, feature importances, the profile of the rows the model was fit on (the baseline
    the inference drift check compares against) and a data report people can read."""
    data, holdout, evaluation = trained.data, trained.holdout, trained.evaluation
    (folder / "plots").mkdir()
    (folder / "profile").mkdir()
    if evaluation.confusion is not None:
        confusion_matrix_png(
            evaluation.confusion,
            evaluation.classes,
            folder / "plots" / "confusion_matrix.png",
            f"Holdout confusion matrix ({data.target})",
        )
    else:
        predicted_vs_actual_png(
            holdout.y_test, evaluation.predicted, folder / "plots" / "predicted_vs_actual.png", data.target
        )
        residuals_png(holdout.y_test, evaluation.predicted, folder / "plots" / "residuals.png", data.target)
    feature_importance_png(data.feature_names, importances, folder / "plots" / "feature_importance.png")
    pd.DataFrame({"feature": data.feature_names, "importance": importances}).sort_values(
        "importance", ascending=False
    ).to_csv(folder / "feature_importance.csv", index=False)
    profile = build_profile(
        holdout.x_train,
        data.plan.kinds,
        holdout.y_train,
        data.task,
        target=data.target,
        id_column=id_column,
        ignored=list(data.plan.dropped),
        text=data.plan.text,
    )
    if data.task == "classification":  # the label-free estimate's calibration (monitoring.estimate)
        classes = list(trained.model.classes_)
        truth = pd.Categorical(holdout.y_test, categories=classes).codes
        profile["calibration"] = fit_calibration(trained.model.predict_proba(holdout.x_test), truth)
    (folder / PROFILE_ARTIFACT).write_text(json.dumps(profile, indent=1, default=str))
    (folder / "profile" / "data_report.md").write_text(data_report_markdown(profile, data.plan.dropped))


def _dataset_name(source: str) -> str:
    return source.rstrip("/").rsplit("/", 1)[-1] or source
