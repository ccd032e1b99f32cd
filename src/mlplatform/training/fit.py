"""Split, fit and evaluate. Pure: frames in, a fitted pipeline and numbers out."""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlplatform.data.validation import Task, TrainingData
from mlplatform.models import Hyperparameters, ModelSpec
from mlplatform.models.preprocessing import (
    build_pipeline,
    categorical_indices,
    datetime_features,
    encodings,
    input_columns,
)

# Which way is better, per metric: the promotion gate compares in this direction.
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision_macro": True,
    "recall_macro": True,
    "f1_macro": True,
    "rmse": False,
    "mae": False,
    "r2": True,
}
TASK_METRICS: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "precision_macro", "recall_macro", "f1_macro"),
    "regression": ("rmse", "mae", "r2"),
}
DEFAULT_METRIC: dict[Task, str] = {"classification": "f1_macro", "regression": "rmse"}


@dataclass(frozen=True)
class Holdout:
    """A train/test split (stratified for classes); the test part is what the gate compares on."""

    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    task: Task
    metrics: dict[str, float]
    predicted: np.ndarray
    per_class_f1: dict[str, float] = field(default_factory=dict)
    confusion: np.ndarray | None = None
    classes: tuple[Any, ...] = ()

    def all_metrics(self) -> dict[str, float]:
        """Flat metric dict for MLflow: headline metrics plus `f1_class_<label>` per class."""
        per_class = {f"f1_class_{metric_safe(label)}": score for label, score in self.per_class_f1.items()}
        return {**self.metrics, **per_class}


def metric_safe(label: Any) -> str:
    """MLflow metric keys allow letters, digits, _ - . / and spaces; replace anything else."""
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", str(label))


def split(data: TrainingData, test_size: float, random_state: int | None) -> Holdout:
    from sklearn.model_selection import train_test_split

    stratify = data.labels if data.task == "classification" else None
    x_train, x_test, y_train, y_test = train_test_split(
        data.features, data.labels, test_size=test_size, random_state=random_state, stratify=stratify
    )
    return Holdout(x_train.reset_index(drop=True), x_test.reset_index(drop=True), y_train, y_test)


def train_rows(rows: int, test_size: float) -> int:
    """Rows `split` leaves for training (scikit-learn rounds the holdout up)."""
    return rows - math.ceil(test_size * rows)


def given_holdout(data: TrainingData, holdout: TrainingData) -> Holdout:
    """Train on all of `data`, evaluate on a separately supplied holdout (a validation channel)."""
    return Holdout(
        data.features.reset_index(drop=True),
        holdout.features[data.feature_names].reset_index(drop=True),
        data.labels,
        holdout.labels,
    )


def fit(
    spec: ModelSpec, params: Hyperparameters, data: TrainingData, x_train: pd.DataFrame, y_train: np.ndarray
) -> tuple[Any, float]:
    """Fit preprocessing + the family's estimator as one pipeline; returns it and the seconds.
    The family's sizes are bounded for the training split (`ModelSpec.for_rows`)."""
    plan = data.plan
    params, _ = spec.for_rows(params, len(x_train))
    estimator = spec.build(params, data.task, categorical_indices(plan.numeric, plan.categorical))
    cap = spec.category_cap(params) if spec.category_cap is not None else None
    model = build_pipeline(estimator, plan.numeric, plan.categorical, spec.native, plan.datetime, cap)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    return model, time.perf_counter() - started


def race(
    candidates: Sequence[ModelSpec], data: TrainingData, x_train: pd.DataFrame, y_train: np.ndarray, seed: int
) -> tuple[ModelSpec, Any, str]:
    """The candidate (with its default hyperparameters) that scores best when fitted on 75% of
    the training split and scored on the rest (macro F1 or R²); a tie goes to the first. The
    holdout is never looked at."""
    from sklearn.model_selection import train_test_split

    metric = "f1_macro" if data.task == "classification" else "r2"
    try:
        inner = train_test_split(
            x_train,
            y_train,
            test_size=0.25,
            random_state=seed,
            stratify=y_train if data.task == "classification" else None,
        )
    except ValueError:  # a class too small to stratify on: a plain split
        inner = train_test_split(x_train, y_train, test_size=0.25, random_state=seed)
    fit_x, check_x, fit_y, check_y = inner
    scores: list[tuple[float, ModelSpec]] = []
    for spec in candidates:
        model, _ = fit(spec, spec.parse_params({}), data, fit_x.reset_index(drop=True), fit_y)
        scores.append((score(model, check_x.reset_index(drop=True), check_y, data, metric), spec))
    best = max(scores, key=lambda pair: pair[0])[1]  # max keeps the first of equals
    board = ", ".join(f"{spec.name} {value:.3f}" for value, spec in scores)
    why = f"{len(x_train):,} training rows: {metric} on a quarter of the training split: {board}"
    return best, best.parse_params({}), why


def training_notes(
    spec: ModelSpec, params: Hyperparameters, data: TrainingData, model: Any, rows: int
) -> dict[str, str]:
    """What training decided on its own, for the run and the log: dates expanded, categories
    capped (fitted on the training split), the family's sizes bounded for `rows` rows."""
    notes: dict[str, str] = {}
    for name in data.plan.datetime:
        notes[f"datetime.{name}"] = "ISO dates/times expanded to " + ", ".join(datetime_features(model, name))
    for name, encoding in encodings(model, data.plan.categorical).items():
        if encoding.capped:
            notes[f"categories.{name}"] = (
                f"{encoding.levels:,} levels in the training split: the {encoding.kept:,} most frequent "
                "encoded on their own, the rest (and unseen values) share one 'other' level"
            )
    _, bounded = spec.for_rows(params, rows)
    if bounded:
        notes[f"{spec.name}.bounded"] = bounded
    return notes


def evaluate(model: Any, x_test: pd.DataFrame, y_test: np.ndarray, data: TrainingData) -> Evaluation:
    """Holdout metrics: macro averages for classes (every class counts the same whatever its
    size); RMSE, MAE and R² for quantities."""
    predicted = model.predict(x_test)
    if data.task == "regression":
        from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

        metrics = {
            "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
            "mae": float(mean_absolute_error(y_test, predicted)),
            "r2": float(r2_score(y_test, predicted)),
        }
        return Evaluation("regression", metrics, np.asarray(predicted, dtype=float))
    return _classification(np.asarray(predicted), y_test, data.classes)


def _classification(predicted: np.ndarray, y_test: np.ndarray, classes: tuple[Any, ...]) -> Evaluation:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    labels = list(classes)
    metrics = {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "precision_macro": float(precision_score(y_test, predicted, labels=labels, average="macro", zero_division=0)),
        "recall_macro": float(recall_score(y_test, predicted, labels=labels, average="macro", zero_division=0)),
        "f1_macro": float(f1_score(y_test, predicted, labels=labels, average="macro", zero_division=0)),
    }
    per_class = f1_score(y_test, predicted, labels=labels, average=None, zero_division=0)
    return Evaluation(
        task="classification",
        metrics=metrics,
        predicted=predicted,
        per_class_f1={str(label): float(score) for label, score in zip(labels, per_class, strict=True)},
        confusion=confusion_matrix(y_test, predicted, labels=labels),
        classes=classes,
    )


def score(model: Any, x_test: pd.DataFrame, y_test: np.ndarray, data: TrainingData, metric: str) -> float:
    """One holdout metric of any fitted model (the champion, in the promotion gate)."""
    return evaluate(model, x_test, y_test, data).metrics[metric]


@dataclass(frozen=True)
class Importances:
    """Permutation importances with the sample and repeats they were measured with (logged)."""

    values: np.ndarray
    rows: int
    repeats: int


def permutation_importance(
    model: Any, holdout: Holdout, data: TrainingData, budget_s: float = 1.0, rows: int = 2000, max_repeats: int = 5
) -> Importances:
    """How much the holdout score drops when one raw column is shuffled: the same measure for
    every family and for categorical columns (impurity importances are per one-hot column, and
    HistGradientBoosting has none). Bounded: a sample of the holdout, and as many repeats as fit
    in `budget_s`. The sample is preprocessed once and a raw column's preprocessed columns are
    shuffled together (the same rows as shuffling the raw column, since every step works row
    by row): the encoders do not run again for each column and repeat."""
    from sklearn.metrics import get_scorer

    x, y = holdout.x_test, holdout.y_test
    if len(x) > rows:
        pick = np.random.default_rng(0).choice(len(x), rows, replace=False)
        x, y = x.iloc[pick].reset_index(drop=True), y[pick]
    scorer = get_scorer("f1_macro" if data.task == "classification" else "neg_root_mean_squared_error")
    groups = input_columns(model, [str(column) for column in x.columns])
    if groups is None:  # not a pipeline of ours: shuffle the raw columns
        estimator, matrix, shuffles = model, x, [[i] for i in range(x.shape[1])]
    else:
        estimator, matrix = model.steps[-1][1], model[:-1].transform(x)
        shuffles = [groups[str(column)] for column in x.columns]
    baseline, random = scorer(estimator, matrix, y), np.random.RandomState(0)
    drops: list[list[float]] = []
    started = time.perf_counter()
    while len(drops) < max_repeats:
        drops.append([baseline - scorer(estimator, _shuffled(matrix, at, random), y) for at in shuffles])
        spent = time.perf_counter() - started
        if spent + spent / len(drops) > budget_s:  # the next repeat would not fit the budget
            break
    return Importances(np.mean(np.asarray(drops, dtype=float), axis=0), len(x), len(drops))


def _shuffled(matrix: Any, columns: list[int], random: np.random.RandomState) -> Any:
    order = random.permutation(matrix.shape[0])
    shuffled = matrix.copy()
    if isinstance(matrix, pd.DataFrame):
        shuffled.iloc[:, columns] = matrix.iloc[order, columns].to_numpy()
    else:
        shuffled[:, columns] = matrix[order][:, columns]
    return shuffled


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """At most `threads` OpenMP/BLAS threads inside the block. scikit-learn is imported first:
    threadpoolctl limits only the runtimes already loaded, and scikit-learn brings OpenMP."""
    import sklearn  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        yield


def threads_to_use(requested: int, cores: int, load: float) -> int:
    """Threads for fit and predict: `requested`, else the cores the load average leaves free
    (at least one). OpenMP threads spin while they wait for each other: on a busy 2-core machine
    one HistGradientBoosting fit took 4.7 s with one thread and 90 s with two."""
    if requested > 0:
        return requested
    return max(1, min(cores, int(cores - load + 0.5)))
