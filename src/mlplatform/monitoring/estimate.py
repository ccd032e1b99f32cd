"""Label-free quality: what a classifier's accuracy and macro F1 are expected to be, from its own
probabilities, on the day it scores — before any label arrives.

Confidence-based performance estimation (as NannyML's CBPE does it): at training time each
class's probability is calibrated on the holdout (isotonic regression, one class against the
rest), so that among rows given p = 0.8 for class c, about 80% are c. At scoring time the
calibrated probabilities of a row (normalised to sum to 1) are the expected share of that row in
each true class; summed over the rows predicted as each class they give an expected confusion
matrix, and from it the expected accuracy and macro F1. It holds while the relation between
probabilities and correctness holds (it does not see concept drift: labels do).

Pure: numpy arrays in, a JSON-ready calibration and numbers out; isotonic regression is fitted
with scikit-learn at training time only, and applied with numpy interpolation when scoring.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlplatform.monitoring.quality import accuracy, f1_macro


def fit_calibration(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Per class, the isotonic map from predicted probability to observed frequency, fitted on
    the holdout (`labels` are class indices). JSON-ready: thresholds only, no pickled object."""
    from sklearn.isotonic import IsotonicRegression

    maps = []
    for index in range(probabilities.shape[1]):
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(probabilities[:, index], (labels == index).astype(float))
        maps.append({"x": isotonic.X_thresholds_.tolist(), "y": isotonic.y_thresholds_.tolist()})
    return {"method": "isotonic-one-vs-rest", "rows": len(labels), "classes": maps}


def calibrate(probabilities: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """Calibrated probabilities, normalised per row (a row with all zeros keeps the raw ones)."""
    columns = [
        np.interp(probabilities[:, index], m["x"], m["y"]) if len(m["x"]) > 1 else probabilities[:, index]
        for index, m in enumerate(calibration["classes"])
    ]
    calibrated = np.column_stack(columns)
    totals = calibrated.sum(axis=1, keepdims=True)
    return np.where(totals > 0, calibrated / np.where(totals > 0, totals, 1), probabilities)


class ExpectedConfusion:
    """The expected confusion matrix `[true, predicted]` of the rows scored so far."""

    def __init__(self, calibration: dict[str, Any]) -> None:
        self.calibration = calibration
        k = len(calibration["classes"])
        self.matrix = np.zeros((k, k))
        self.rows = 0

    def add(self, probabilities: np.ndarray, predicted: np.ndarray) -> None:
        if not len(predicted):
            return
        expected = calibrate(probabilities, self.calibration)
        k = self.matrix.shape[0]
        for column in range(k):
            chosen = predicted == column
            if chosen.any():
                self.matrix[:, column] += expected[chosen].sum(axis=0)
        self.rows += len(predicted)

    def estimates(self) -> dict[str, float]:
        """Expected accuracy and macro F1 (empty before any row)."""
        if not self.rows:
            return {}
        return {"accuracy": float(accuracy(self.matrix)), "f1_macro": float(f1_macro(self.matrix))}
