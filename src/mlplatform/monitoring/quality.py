"""Realized quality of a date's predictions once their labels are in: the metric, a 95% interval
and a status. Pure: label and prediction arrays in, numbers out.

The interval is a bootstrap over buckets: rows are dealt into up to 1,000 buckets as they stream
in, each bucket keeps the sufficient statistics of its rows (a confusion matrix, or sums of
errors and labels), and each resample draws buckets with replacement. That is the ordinary
bootstrap when every row is a bucket, and a block bootstrap of the same width when there are
many rows, in bounded memory and O(buckets) per resample however many rows a date has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Status = Literal["ok", "degraded", "insufficient", "no-labels"]
HIGHER_IS_BETTER = {"f1_macro": True, "accuracy": True, "r2": True, "rmse": False, "mae": False}
MAX_BUCKETS = 1000
RESAMPLES = 400


@dataclass(frozen=True)
class Realized:
    """One date's realized metrics, the main one with its 95% bootstrap interval."""

    metric: str
    value: float
    ci_low: float
    ci_high: float
    labels: int
    metrics: dict[str, float]


def f1_macro(confusion: np.ndarray) -> np.ndarray:
    """Macro F1 from confusion matrices `[..., true, predicted]` over every class that occurs as a
    label or a prediction (scikit-learn's `f1_score(average="macro")`)."""
    tp = np.diagonal(confusion, axis1=-2, axis2=-1).astype(float)
    labelled, predicted = confusion.sum(axis=-1), confusion.sum(axis=-2)
    present = (labelled + predicted) > 0
    denominator = labelled + predicted
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return np.where(present, f1, 0).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def accuracy(confusion: np.ndarray) -> np.ndarray:
    total = confusion.sum(axis=(-2, -1))
    return np.diagonal(confusion, axis1=-2, axis2=-1).sum(axis=-1) / np.maximum(total, 1)


class _Buckets:
    """Rows dealt into buckets in arrival order (row i goes to bucket i mod B), so the result does
    not depend on batch sizes, and the first min(rows, B) buckets are the ones in use."""

    def __init__(self) -> None:
        self.rows = 0

    def assign(self, count: int) -> np.ndarray:
        positions = np.arange(self.rows, self.rows + count)
        self.rows += count
        return positions % MAX_BUCKETS

    def used(self) -> int:
        return min(self.rows, MAX_BUCKETS)


class ClassificationQuality:
    """Accumulates (label, prediction) class indices; `classes` includes labels the model never
    predicted (they count as errors, as scikit-learn counts them)."""

    def __init__(self, n_classes: int) -> None:
        self.k = n_classes
        self.buckets = _Buckets()
        self.confusion = np.zeros((MAX_BUCKETS, n_classes, n_classes), dtype=np.int64)

    def add(self, labels: np.ndarray, predicted: np.ndarray) -> None:
        bucket = self.buckets.assign(len(labels))
        np.add.at(self.confusion, (bucket, labels, predicted), 1)

    def result(self, seed: int = 0) -> Realized | None:
        used = self.buckets.used()
        if used == 0:
            return None
        counts = self.confusion[:used]
        total = counts.sum(axis=0)
        resampled = _resample(counts, seed)
        low, high = np.quantile(f1_macro(resampled), [0.025, 0.975])
        value = float(f1_macro(total))
        metrics = {"f1_macro": value, "accuracy": float(accuracy(total))}
        return Realized("f1_macro", value, float(low), float(high), int(total.sum()), metrics)


class RegressionQuality:
    """Accumulates labels and predicted values: rmse (the main metric), mae, r2."""

    def __init__(self) -> None:
        self.buckets = _Buckets()
        # per bucket: rows, sum of squared errors, sum of absolute errors, sum of labels, of squares
        self.sums = np.zeros((MAX_BUCKETS, 5))

    def add(self, labels: np.ndarray, predicted: np.ndarray) -> None:
        labels, predicted = labels.astype(float), predicted.astype(float)
        errors = predicted - labels
        values = np.column_stack([np.ones_like(labels), errors**2, np.abs(errors), labels, labels**2])
        np.add.at(self.sums, self.buckets.assign(len(labels)), values)

    def result(self, seed: int = 0) -> Realized | None:
        used = self.buckets.used()
        if used == 0:
            return None
        sums = self.sums[:used]
        total = _regression_metrics(sums.sum(axis=0))
        resampled = _regression_metrics(_resample(sums, seed))
        low, high = np.quantile(resampled["rmse"], [0.025, 0.975])
        metrics = {name: float(values) for name, values in total.items()}
        return Realized("rmse", metrics["rmse"], float(low), float(high), int(sums[:, 0].sum()), metrics)


def _regression_metrics(sums: np.ndarray) -> dict[str, np.ndarray]:
    n, squared, absolute, total, total_squared = (sums[..., i] for i in range(5))
    n = np.maximum(n, 1)
    variance = total_squared - total**2 / n
    r2 = np.divide(variance - squared, variance, out=np.zeros_like(variance), where=variance > 0)
    return {"rmse": np.sqrt(squared / n), "mae": absolute / n, "r2": r2}


def _resample(per_bucket: np.ndarray, seed: int) -> np.ndarray:
    """RESAMPLES sums of `len(per_bucket)` buckets drawn with replacement."""
    rng = np.random.default_rng(seed)
    used = len(per_bucket)
    draws = rng.integers(0, used, size=(RESAMPLES, used))
    weights = np.zeros((RESAMPLES, used))
    np.add.at(weights, (np.arange(RESAMPLES)[:, None], draws), 1)
    return np.tensordot(weights, per_bucket, axes=(1, 0))


def quality_status(
    realized: Realized | None,
    reference: float | None,
    coverage: float,
    *,
    tolerance: float,
    min_coverage: float,
    min_labels: int,
) -> Status:
    """`degraded` when the whole 95% interval is worse than the reference by more than the
    tolerance; `insufficient` when too few predictions have labels to say."""
    if realized is None or realized.labels == 0:
        return "no-labels"
    if coverage < min_coverage or realized.labels < min_labels:
        return "insufficient"
    if reference is None:
        return "ok"
    if HIGHER_IS_BETTER[realized.metric]:
        return "degraded" if realized.ci_high < reference - tolerance else "ok"
    return "degraded" if realized.ci_low > reference + tolerance else "ok"
