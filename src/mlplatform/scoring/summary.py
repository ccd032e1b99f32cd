"""What a scoring run adds up while it scores, and what it says about itself afterwards: the
counts, the run's metrics and its part of the `_SUCCESS` manifest. Pure: values in, values out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlplatform.monitoring.estimate import ExpectedConfusion
from mlplatform.scoring.batch import ScoredBatch
from mlplatform.scoring.drift import DriftAccumulator, DriftReport


@dataclass
class RunCounts:
    """Rows, bad rows, the class mix (classification) or the range of predicted values
    (regression), and the drift accumulator, updated batch by batch."""

    classes: list[Any]  # empty for a regressor
    drift: DriftAccumulator | None
    expected: ExpectedConfusion | None = None  # classification with a calibration: the label-free estimate
    rows: int = 0
    bad_rows: int = 0
    per_class: np.ndarray | None = None
    total: float = 0.0
    low: float = np.inf
    high: float = -np.inf

    def add(self, scored: ScoredBatch) -> None:
        self.rows += len(scored)
        self.bad_rows += len(scored.bad_row_ids)
        if self.classes:
            counts = np.bincount(scored.predicted, minlength=len(self.classes))
            self.per_class = counts if self.per_class is None else self.per_class + counts
        elif len(scored):
            self.total += float(scored.predicted.sum())
            self.low = min(self.low, float(scored.predicted.min()))
            self.high = max(self.high, float(scored.predicted.max()))
        if self.drift is not None:
            self.drift.update(scored.features)
        if self.expected is not None and scored.probabilities is not None:
            self.expected.add(scored.probabilities, scored.predicted)

    def estimates(self) -> dict[str, float]:
        """Expected accuracy and macro F1 from calibrated probabilities (`monitoring.estimate`)."""
        return self.expected.estimates() if self.expected is not None else {}

    def class_counts(self) -> dict[str, int]:
        values = self.per_class if self.per_class is not None else np.zeros(len(self.classes), dtype=int)
        return {str(c): int(n) for c, n in zip(self.classes, values, strict=True)}

    def prediction_stats(self) -> dict[str, float]:
        if self.classes or not self.rows:
            return {}
        return {"prediction_mean": self.total / self.rows, "prediction_min": self.low, "prediction_max": self.high}


def run_metrics(
    counts: RunCounts, drift: DriftReport | None, sink_metrics: Mapping[str, float], seconds: float
) -> dict[str, float]:
    """The inference run's metrics: volume, end-to-end speed, class mix or prediction range,
    each sink's own metrics, drift per feature."""
    scored = max(counts.rows, 1)
    metrics: dict[str, float] = {
        "rows": counts.rows,
        "bad_rows": counts.bad_rows,
        "rows_per_s": counts.rows / max(seconds, 1e-9),
        "duration_s": seconds,
    }
    metrics |= {f"class_fraction_{label}": n / scored for label, n in counts.class_counts().items()}
    metrics |= counts.prediction_stats()
    metrics |= {f"estimated_{name}": value for name, value in counts.estimates().items()}
    metrics |= dict(sink_metrics)
    if drift is not None:
        metrics |= {f"psi_{f.feature}": f.psi for f in drift.features}
        metrics |= {f"ks_{f.feature}": f.ks for f in drift.features if f.ks is not None}
        metrics |= {f"unseen_{f.feature}": f.unseen for f in drift.features if f.kind == "categorical"}
        metrics |= {"drift_max_psi": drift.max_psi, "drifted_features": len(drift.drifted)}
    return metrics


def monitoring_section(counts: RunCounts, drift: DriftReport | None) -> dict[str, Any]:
    """What the closed loop and the dashboard read back from a committed date without MLflow: the
    label-free estimate, the class mix (or range of values), and the drift per feature with its bins."""
    section: dict[str, Any] = {
        "estimate": counts.estimates(),
        "class_counts": counts.class_counts(),
        "prediction_stats": counts.prediction_stats(),
    }
    if drift is not None:
        section |= {"drifted": list(drift.drifted), "max_psi": drift.max_psi, "drift": drift.as_dict()}
    return section
