"""Checks a training table before any model is fit or anything is logged.

Pure: takes a pandas frame, returns model input (numeric and categorical features, missing
values allowed), the labels and the task, or raises a DataError whose headline names the
column (and "data row N": 1-based, the header not counted) and whose fix says what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlplatform.data.columns import ColumnRoles, FeaturePlan, feature_frame, plan_features
from mlplatform.errors import DataError

Task = Literal["classification", "regression"]
TaskChoice = Literal["auto", "classification", "regression"]
MAX_CLASSES_FOR_NUMBERS = 20  # a whole-number target with more distinct values is a quantity


@dataclass(frozen=True)
class TrainingData:
    """Model input (raw kinds, missing allowed), labels and what was decided about them."""

    features: pd.DataFrame
    labels: np.ndarray
    target: str
    task: Task
    plan: FeaturePlan
    classes: tuple[Any, ...] = ()
    unlabeled_dropped: int = 0

    @property
    def feature_names(self) -> list[str]:
        return self.plan.names


def validate_training_frame(
    frame: pd.DataFrame,
    target: str,
    test_size: float,
    *,
    id_column: str | None = None,
    drop: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    task: TaskChoice = "auto",
    drop_unlabeled: bool = False,
) -> TrainingData:
    """Every check in the order a user would fix them; the first failure is raised. Rows are
    named as data rows of `frame` (1-based, the header not counted), also after unlabeled rows
    are left out."""
    frame = frame.reset_index(drop=True)
    _check_columns(frame, target)
    labels, keep = _clean_labels(frame[target], target, drop_unlabeled)
    frame = frame[keep]
    labels = labels[keep]
    _check_not_empty(frame, f"every row of {target!r} is unlabeled")
    plan = plan_features(frame, ColumnRoles(target, id_column, tuple(drop), tuple(categorical)))
    chosen = infer_task(labels, target, task)
    features = feature_frame(frame, plan).reset_index(drop=True)
    values = labels.reset_index(drop=True)
    dropped = int((~keep).sum())
    if chosen == "regression":
        regression = _regression_labels(values, target, test_size, labels.index.to_numpy())
        return TrainingData(features, regression, target, chosen, plan, unlabeled_dropped=dropped)
    classes_values = _class_labels(values)
    classes = _check_classes(classes_values, target, test_size)
    return TrainingData(features, classes_values, target, chosen, plan, classes, dropped)


def _check_columns(frame: pd.DataFrame, target: str) -> None:
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise DataError(f"duplicate column name {duplicated[0]!r}", "rename or drop one of the columns")
    _check_not_empty(frame, f"the data is empty ({len(frame)} rows, {frame.shape[1]} columns)")
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise DataError(
            f"target column {target!r} not found (columns: {columns})",
            "pass the label column with --target COLUMN",
        )
    if frame.shape[1] < 2:
        raise DataError("the data has no feature columns besides the target", "add feature columns")


def _check_not_empty(frame: pd.DataFrame, headline: str) -> None:
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(headline, "point at a file with a header row and at least one labelled data row per class")


def _clean_labels(column: pd.Series, target: str, drop_unlabeled: bool) -> tuple[pd.Series, np.ndarray]:
    """Labels with blank strings as missing; the rows to keep. Missing labels are an error
    naming how many and where, unless the user asked to drop those rows."""
    labels = column
    if not pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        text = column.astype("string").str.strip()
        labels = column.where(text.fillna("") != "", None)
    missing = labels.isna().to_numpy()
    if missing.any() and not drop_unlabeled:
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(missing)[:5])
        raise DataError(
            f"target column {target!r} has {int(missing.sum())} missing or blank labels (data rows {rows}"
            f"{', ...' if missing.sum() > 5 else ''})",
            "fill in those labels, or leave the rows out with --drop-unlabeled",
        )
    return labels, ~missing


def infer_task(labels: pd.Series, target: str, requested: TaskChoice) -> Task:
    """Numbers with fractions, or many distinct whole numbers, are a quantity (regression);
    anything else is a set of classes. `requested` overrides the guess."""
    numeric = pd.api.types.is_numeric_dtype(labels.dtype) and not pd.api.types.is_bool_dtype(labels.dtype)
    if requested == "regression":
        if not numeric:
            example = labels.dropna().iloc[0]
            raise DataError(
                f"target column {target!r} is not numeric (e.g. {example!r}): regression needs numbers",
                "pick a numeric target, or use --task classification",
            )
        return "regression"
    if requested == "classification" or not numeric:
        return "classification"
    values = labels.to_numpy(dtype="float64")
    finite = np.isfinite(values)
    fractional = bool(np.any(finite & (values != np.round(values))))
    quantity = fractional or not finite.all() or labels.nunique() > MAX_CLASSES_FOR_NUMBERS
    return "regression" if quantity else "classification"


def _regression_labels(
    labels: pd.Series, target: str, test_size: float | None, positions: np.ndarray | None = None
) -> np.ndarray:
    """Finite numbers; with a `test_size`, enough rows to train and evaluate. `positions`: the
    0-based data row of each label (rows without a label may have been left out)."""
    values = labels.to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(positions[np.flatnonzero(bad)[0]]) + 1 if positions is not None else _first(bad)
        raise DataError(
            f"target column {target!r} has {int(bad.sum())} infinite values (first at data row {first})",
            "drop those rows or fix their labels",
        )
    if test_size is not None and (len(values) < 10 or math.ceil(test_size * len(values)) < 2):
        raise DataError(
            f"{len(values)} rows are too few to train and evaluate a regressor with test_size={test_size}",
            "add rows (at least 10) or raise test_size",
        )
    return values


def _class_labels(labels: pd.Series) -> np.ndarray:
    """Strings stay strings; whole-number floats (1.0 from a CSV) become integers."""
    if pd.api.types.is_bool_dtype(labels.dtype):
        return labels.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(labels.dtype):
        return labels.to_numpy(dtype="float64").astype(np.int64)
    return labels.astype(str).str.strip().to_numpy(dtype=object)


def _check_classes(labels: np.ndarray, target: str, test_size: float) -> tuple[Any, ...]:
    classes, counts = np.unique(labels, return_counts=True)
    rows = len(labels)
    if len(classes) < 2:
        raise DataError(
            f"target column {target!r} has a single class {classes[0]!r}",
            "a classifier needs rows of at least two classes",
        )
    smallest = int(np.argmin(counts))
    if counts[smallest] < 2:
        raise DataError(
            f"class {classes[smallest]!r} of {target!r} has only {counts[smallest]} row",
            "the stratified holdout needs at least 2 rows per class: add rows or drop the class",
        )
    n_test = math.ceil(test_size * rows)
    if n_test < len(classes) or rows - n_test < len(classes):
        raise DataError(
            f"{rows} rows are too few for {len(classes)} classes with test_size={test_size}",
            "add rows or change test_size so both the holdout and the training split get every class",
        )
    return tuple(c.item() if hasattr(c, "item") else c for c in classes)


def _first(mask: np.ndarray) -> int:
    """1-based number of the first data row where `mask` is true (0 if none)."""
    hits = np.flatnonzero(mask)
    return int(hits[0]) + 1 if len(hits) else 0


def validate_holdout(frame: pd.DataFrame, target: str, training: TrainingData) -> TrainingData:
    """A separately supplied holdout: the training data's columns and kinds, known classes only."""
    _check_columns(frame, target)
    missing = [name for name in training.feature_names if name not in frame.columns]
    if missing:
        raise DataError(
            f"validation data lacks column {missing[0]!r} of the training data",
            "give the validation data the training data's columns",
        )
    labels, _ = _clean_labels(frame[target], target, drop_unlabeled=False)
    features = feature_frame(frame, training.plan).reset_index(drop=True)
    values = labels.reset_index(drop=True)
    if training.task == "regression":
        return TrainingData(features, _regression_labels(values, target, None), target, "regression", training.plan)
    classes_values = _class_labels(values)
    unknown = sorted(set(classes_values) - set(training.classes), key=str)
    if unknown:
        raise DataError(
            f"validation data has class {unknown[0]!r} that the training data lacks",
            "drop those rows or add the class to the training data",
        )
    return TrainingData(features, classes_values, target, "classification", training.plan, training.classes)
