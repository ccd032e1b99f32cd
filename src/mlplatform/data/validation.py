"""Checks a training table before any model is fit or anything is logged.

Pure: takes a pandas frame, returns numeric features and labels, or raises a DataError whose
headline names the column (and row, 1-based over data rows) and whose fix says what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlplatform.errors import DataError


@dataclass(frozen=True)
class TrainingData:
    """Validated features (float64) and labels, ready for a stratified split."""

    features: pd.DataFrame
    labels: np.ndarray
    target: str
    classes: tuple[Any, ...]

    @property
    def feature_names(self) -> list[str]:
        return [str(c) for c in self.features.columns]


def validate_training_frame(frame: pd.DataFrame, target: str, test_size: float) -> TrainingData:
    """Every check in the order a user would fix them; the first failure is raised."""
    _check_columns(frame, target)
    labels = _check_target(frame[target], target)
    features = _check_features(frame.drop(columns=[target]))
    classes = _check_classes(labels, target, test_size)
    return TrainingData(features=features, labels=labels, target=target, classes=classes)


def _check_columns(frame: pd.DataFrame, target: str) -> None:
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise DataError(f"duplicate column name {duplicated[0]!r}", "rename or drop one of the columns")
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(
            f"the data is empty ({len(frame)} rows, {frame.shape[1]} columns)",
            "point at a file with a header row and at least one data row per class",
        )
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise DataError(
            f"target column {target!r} not found (columns: {columns})",
            "pass the label column with --target COLUMN",
        )
    if frame.shape[1] < 2:
        raise DataError("the data has no feature columns besides the target", "add numeric feature columns")


def _check_target(target_values: pd.Series, target: str) -> np.ndarray:
    missing = target_values.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"target column {target!r} has {int(missing.sum())} missing values (first at row {_first(missing)})",
            "drop those rows or fill in their labels",
        )
    values = target_values.to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(target_values.dtype):
        values = target_values.astype(str).to_numpy(dtype=object)
    return values


def _check_features(features: pd.DataFrame) -> pd.DataFrame:
    converted: dict[str, np.ndarray] = {}
    for name in features.columns:
        column = features[name]
        if column.isna().all():
            raise DataError(f"feature {name!r} has no values (all null)", f"drop the column {name!r}")
        if pd.api.types.is_bool_dtype(column.dtype):
            column = column.astype("float64")
        if not pd.api.types.is_numeric_dtype(column.dtype):
            numeric = pd.to_numeric(column, errors="coerce")
            bad = (numeric.isna() & column.notna()).to_numpy()
            row = _first(bad)
            example = column.iloc[row - 1] if row else column.dropna().iloc[0]
            raise DataError(
                f"feature {name!r} is not numeric (e.g. {example!r} at row {row or '?'})",
                f"encode {name!r} as numbers or drop the column",
            )
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(
                f"feature {name!r} has {int(bad.sum())} NaN/inf values (first at row {_first(bad)})",
                "drop or fill those rows before training",
            )
        converted[str(name)] = values
    return pd.DataFrame(converted)


def _check_classes(labels: np.ndarray, target: str, test_size: float) -> tuple[Any, ...]:
    classes, counts = np.unique(labels, return_counts=True)
    rows = len(labels)
    if len(classes) < 2:
        raise DataError(
            f"target column {target!r} has a single class {classes[0]!r}",
            "a classifier needs rows of at least two classes",
        )
    if len(classes) > 20 and len(classes) > rows / 2:
        raise DataError(
            f"target column {target!r} has {len(classes)} distinct values in {rows} rows; it looks continuous",
            "mlplatform trains classifiers: pick a categorical label column",
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
    """A separately supplied holdout: same checks, same feature columns, only known classes."""
    _check_columns(frame, target)
    labels = _check_target(frame[target], target)
    features = _check_features(frame.drop(columns=[target]))
    missing = [n for n in training.feature_names if n not in features.columns]
    extra = [n for n in features.columns if n not in training.feature_names]
    if missing or extra:
        name = (missing or extra)[0]
        raise DataError(
            f"validation data column {name!r} {'is missing' if missing else 'is not in the training data'}",
            "give the validation data exactly the training data's columns",
        )
    unknown = sorted(set(labels) - set(training.classes), key=str)
    if unknown:
        raise DataError(
            f"validation data has class {unknown[0]!r} that the training data lacks",
            "drop those rows or add the class to the training data",
        )
    return TrainingData(features=features[training.feature_names], labels=labels, target=target,
                        classes=training.classes)  # fmt: skip
