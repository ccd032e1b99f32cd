"""Score one batch: split off bad rows, predict probabilities, pick the class."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ScoredBatch:
    row_ids: np.ndarray
    features: np.ndarray
    probabilities: np.ndarray
    predicted: np.ndarray  # index into the model's classes
    bad_row_ids: np.ndarray
    bad_features: np.ndarray
    bad_reasons: list[str]

    def __len__(self) -> int:
        return len(self.row_ids)


def bad_row_reasons(features: np.ndarray, feature_names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Mask of rows with a null/NaN/inf value and, for each such row, which columns and why."""
    finite = np.isfinite(features)
    bad = ~finite.all(axis=1)
    reasons = []
    for row in features[bad]:
        parts = [
            f"{name} is {'null/NaN' if np.isnan(value) else 'inf'}"
            for name, value in zip(feature_names, row, strict=True)
            if not np.isfinite(value)
        ]
        reasons.append("; ".join(parts))
    return bad, reasons


def score_batch(model: Any, row_ids: np.ndarray, features: np.ndarray, feature_names: list[str]) -> ScoredBatch:
    bad, reasons = bad_row_reasons(features, feature_names)
    good_features = features[~bad] if bad.any() else features
    good_ids = row_ids[~bad] if bad.any() else row_ids
    if len(good_features):
        with warnings.catch_warnings():
            # Fitted on a DataFrame, scored on numpy (faster): sklearn warns about names.
            warnings.simplefilter("ignore", UserWarning)
            probabilities = model.predict_proba(good_features)
    else:
        probabilities = np.empty((0, len(model.classes_)))
    return ScoredBatch(
        row_ids=good_ids,
        features=good_features,
        probabilities=probabilities,
        predicted=probabilities.argmax(axis=1),
        bad_row_ids=row_ids[bad],
        bad_features=features[bad],
        bad_reasons=reasons,
    )
