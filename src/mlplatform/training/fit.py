"""Split, fit and evaluate. Pure: arrays in, a model and numbers out."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlplatform.data.validation import TrainingData
from mlplatform.models import Hyperparameters, ModelSpec


@dataclass(frozen=True)
class Holdout:
    """A stratified train/test split; the test part is what the promotion gate compares on."""

    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    per_class_f1: dict[str, float]
    confusion: np.ndarray
    classes: tuple[Any, ...]

    def all_metrics(self) -> dict[str, float]:
        """Flat metric dict for MLflow: headline metrics plus `f1_class_<label>` per class."""
        per_class = {f"f1_class_{metric_safe(label)}": score for label, score in self.per_class_f1.items()}
        return {**self.metrics, **per_class}


def metric_safe(label: Any) -> str:
    """MLflow metric keys allow letters, digits, _ - . / and spaces; replace anything else."""
    return re.sub(r"[^0-9A-Za-z_\-./ ]", "_", str(label))


def split(data: TrainingData, test_size: float, random_state: int | None) -> Holdout:
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        data.features, data.labels, test_size=test_size, random_state=random_state, stratify=data.labels
    )
    return Holdout(x_train.reset_index(drop=True), x_test.reset_index(drop=True), y_train, y_test)


def given_holdout(data: TrainingData, holdout: TrainingData) -> Holdout:
    """Train on all of `data`, evaluate on a separately supplied holdout (a validation channel)."""
    return Holdout(
        data.features.reset_index(drop=True),
        holdout.features[data.feature_names].reset_index(drop=True),
        data.labels,
        holdout.labels,
    )


def fit(spec: ModelSpec, params: Hyperparameters, x_train: pd.DataFrame, y_train: np.ndarray) -> tuple[Any, float]:
    """Fit the family's estimator; returns it and the wall-clock seconds the fit took."""
    model = spec.build(params, "classification")
    started = time.perf_counter()
    model.fit(x_train, y_train)
    return model, time.perf_counter() - started


def evaluate(model: Any, x_test: pd.DataFrame, y_test: np.ndarray, classes: tuple[Any, ...]) -> Evaluation:
    """Holdout metrics; macro averages so every class counts the same whatever its size."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    predicted = model.predict(x_test)
    labels = list(classes)
    metrics = {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "precision_macro": float(precision_score(y_test, predicted, labels=labels, average="macro", zero_division=0)),
        "recall_macro": float(recall_score(y_test, predicted, labels=labels, average="macro", zero_division=0)),
        "f1_macro": float(f1_score(y_test, predicted, labels=labels, average="macro", zero_division=0)),
    }
    per_class = f1_score(y_test, predicted, labels=labels, average=None, zero_division=0)
    return Evaluation(
        metrics=metrics,
        per_class_f1={str(label): float(score) for label, score in zip(labels, per_class, strict=True)},
        confusion=confusion_matrix(y_test, predicted, labels=labels),
        classes=classes,
    )


def score(model: Any, x_test: pd.DataFrame, y_test: np.ndarray, classes: tuple[Any, ...], metric: str) -> float:
    """One holdout metric of any fitted classifier (the champion, in the promotion gate)."""
    return evaluate(model, x_test, y_test, classes).metrics[metric]
