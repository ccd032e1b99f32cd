"""Score one batch: split off the rows the model cannot score, predict, and keep what the sinks
need. Pure over a pandas frame of model input (float64 numbers, string categories)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Task = Literal["classification", "regression"]
FLOAT32_MAX = float(np.finfo(np.float32).max)  # tree models compare features as float32


@dataclass(frozen=True)
class ScoredBatch:
    row_ids: np.ndarray
    features: pd.DataFrame  # the scored rows' model input
    predicted: np.ndarray  # classification: index into the classes; regression: the value
    probabilities: np.ndarray | None  # classification only
    bad_row_ids: np.ndarray
    bad_features: pd.DataFrame
    bad_reasons: list[str]

    def __len__(self) -> int:
        return len(self.row_ids)


def bad_row_reasons(features: pd.DataFrame, numeric: list[str], accepts_missing: bool) -> tuple[np.ndarray, list[str]]:
    """Mask of rows the model cannot score and, for each, which columns and why: infinite
    numbers always; missing values only for a model without imputation (trained before
    preprocessing was part of the model)."""
    problems: list[tuple[str, np.ndarray, np.ndarray]] = []  # (name, inf mask, missing mask)
    for name in features.columns:
        column = features[name]
        if name in numeric:
            values = column.to_numpy(dtype="float64")
            with np.errstate(invalid="ignore"):
                infinite = np.abs(values) > FLOAT32_MAX  # inf, and numbers no float32 can hold
            missing = np.isnan(values) if not accepts_missing else np.zeros(len(values), dtype=bool)
        else:
            infinite = np.zeros(len(column), dtype=bool)
            missing = column.isna().to_numpy() if not accepts_missing else infinite
        if infinite.any() or missing.any():
            problems.append((name, infinite, missing))
    bad = np.zeros(len(features), dtype=bool)
    for _, infinite, missing in problems:
        bad |= infinite | missing
    reasons = []
    for row in np.flatnonzero(bad):
        parts = [
            f"{name} is {_what(features[name].iloc[row]) if infinite[row] else 'null/NaN'}"
            for name, infinite, missing in problems
            if infinite[row] or missing[row]
        ]
        reasons.append("; ".join(parts))
    return bad, reasons


def _what(value: float) -> str:
    return "inf" if np.isinf(value) else f"{value:g}, beyond the float32 range"


def score_batch(
    model: Any, row_ids: np.ndarray, features: pd.DataFrame, task: Task, numeric: list[str], accepts_missing: bool
) -> ScoredBatch:
    bad, reasons = bad_row_reasons(features, numeric, accepts_missing)
    good = features[~bad].reset_index(drop=True) if bad.any() else features
    good_ids = row_ids[~bad] if bad.any() else row_ids
    probabilities = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # feature-name notes on models fit on numpy
        if task == "classification":
            empty = np.empty((0, len(model.classes_)))
            probabilities = np.asarray(model.predict_proba(good)) if len(good) else empty
            predicted = probabilities.argmax(axis=1)
        else:
            predicted = np.asarray(model.predict(good), dtype=float) if len(good) else np.empty(0)
    return ScoredBatch(
        row_ids=good_ids,
        features=good,
        predicted=predicted,
        probabilities=probabilities,
        bad_row_ids=row_ids[bad],
        bad_features=features[bad].reset_index(drop=True),
        bad_reasons=reasons,
    )


def task_of(model: Any) -> Task:
    """A model that gives class probabilities is a classifier; anything else predicts values."""
    return "classification" if hasattr(model, "predict_proba") else "regression"


def accepts_missing(model: Any) -> bool:
    """Models trained with the preprocessing pipeline impute (or natively take) missing values."""
    return hasattr(model, "steps")


class UniqueIds:
    """Checks that the row ids of a run are unique, across batches: they become prediction ids
    and Kafka keys. Ids are kept as 64-bit values (whole numbers as they are, text hashed)."""

    def __init__(self, column: str, source: str) -> None:
        self.column = column
        self.source = source
        self.seen: list[np.ndarray] = []

    def add(self, row_ids: np.ndarray) -> None:
        keys = pd.util.hash_array(row_ids.astype(object)) if row_ids.dtype.kind in "OUS" else row_ids.astype(np.int64)
        unique, index, counts = np.unique(keys, return_index=True, return_counts=True)
        if (counts > 1).any():
            first = row_ids[index[np.flatnonzero(counts > 1)[0]]]
            first = first.item() if hasattr(first, "item") else first
            self._fail(f"row id {first!r} appears more than once")
        self.seen.append(unique)

    def check(self) -> None:
        """After the last batch: duplicates between batches."""
        keys = np.concatenate(self.seen) if self.seen else np.empty(0, dtype=np.int64)
        duplicates = len(keys) - len(np.unique(keys))
        if duplicates:
            self._fail(f"{duplicates} row ids appear in more than one batch")

    def _fail(self, what: str) -> None:
        from mlplatform.errors import DataError

        raise DataError(
            f"id column {self.column!r} of {self.source}: {what}",
            "prediction ids and Kafka keys come from it, so it must be unique: fix the input or drop --id-column",
        )
