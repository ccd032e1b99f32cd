"""Drift of a scored batch against the training profile: PSI and KS per feature, streamed.

Counts are accumulated batch by batch on the profile's quantile bins, so memory stays constant.
KS is computed on the profile's quantile grid (the training CDF is known exactly there), which
gives a lower bound of the exact two-sample statistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EPSILON = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks: float
    expected: list[float]
    actual: list[float]
    edges: list[float]


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureDrift]
    threshold: float
    rows: int

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.psi > self.threshold]

    @property
    def max_psi(self) -> float:
        return max((f.psi for f in self.features), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "rows": self.rows,
            "drifted": self.drifted,
            "features": {
                f.feature: {"psi": f.psi, "ks": f.ks, "expected": f.expected, "actual": f.actual, "edges": f.edges}
                for f in self.features
            },
        }


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index; empty bins are floored at EPSILON so it stays finite."""
    e = np.clip(expected, EPSILON, None)
    a = np.clip(actual, EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


class DriftAccumulator:
    def __init__(self, profile: dict[str, Any], feature_names: list[str], threshold: float) -> None:
        self.threshold = threshold
        self.names = [n for n in feature_names if n in profile["features"]]
        self.columns = [feature_names.index(n) for n in self.names]
        stats = [profile["features"][n] for n in self.names]
        self.edges = [np.asarray(s["bin_edges"], dtype=float) for s in stats]
        self.expected = [np.asarray(s["bin_fractions"], dtype=float) for s in stats]
        self.grid = [np.asarray(sorted(float(v) for v in s["quantiles"].values())) for s in stats]
        self.grid_cdf = [np.asarray(sorted(float(q) for q in s["quantiles"])) for s in stats]
        self.bin_counts = [np.zeros(len(e) + 1, dtype=np.int64) for e in self.edges]
        self.grid_counts = [np.zeros(len(g), dtype=np.int64) for g in self.grid]
        self.rows = 0

    def update(self, features: np.ndarray) -> None:
        if not len(features):
            return
        self.rows += len(features)
        for i, column in enumerate(self.columns):
            values = features[:, column]
            self.bin_counts[i] += np.bincount(
                np.searchsorted(self.edges[i], values, side="right"), minlength=len(self.edges[i]) + 1
            )
            # rows <= each grid point, without sorting the batch: histogram on the grid, cumulated
            below = np.bincount(np.searchsorted(self.grid[i], values, side="left"), minlength=len(self.grid[i]) + 1)
            self.grid_counts[i] += np.cumsum(below)[:-1]

    def report(self) -> DriftReport:
        features = []
        for i, name in enumerate(self.names):
            actual = self.bin_counts[i] / max(self.rows, 1)
            ks = float(np.max(np.abs(self.grid_counts[i] / max(self.rows, 1) - self.grid_cdf[i]), initial=0.0))
            features.append(
                FeatureDrift(
                    feature=name,
                    psi=psi(self.expected[i], actual),
                    ks=ks,
                    expected=self.expected[i].tolist(),
                    actual=actual.tolist(),
                    edges=self.edges[i].tolist(),
                )
            )
        return DriftReport(features, self.threshold, self.rows)
