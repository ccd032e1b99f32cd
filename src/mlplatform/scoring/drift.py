"""Drift of a scored batch against the training profile: PSI and KS per feature, streamed.

Numeric features: counts accumulated batch by batch on the profile's quantile bins (missing
values left out), so memory stays constant; KS on the profile's quantile grid (the training CDF
is known exactly there), a lower bound of the exact two-sample statistic. Categorical features:
category-frequency PSI over the most frequent training categories, the rest of the training
categories, and an "unseen" bucket for values training never had.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EPSILON = 1e-4


TOP_CATEGORIES = 12
UNSEEN = "(unseen)"
OTHER = "(other)"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks: float | None  # numeric features only
    expected: list[float]
    actual: list[float]
    edges: list[Any]  # numeric: inner bin edges; categorical: the bucket labels
    kind: str = "numeric"
    unseen: int = 0  # categorical: values training never had


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
                f.feature: {
                    "kind": f.kind,
                    "psi": f.psi,
                    "ks": f.ks,
                    "expected": f.expected,
                    "actual": f.actual,
                    "edges": f.edges,
                    "unseen": f.unseen,
                }
                for f in self.features
            },
        }


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index; empty bins are floored at EPSILON so it stays finite."""
    e = np.clip(expected, EPSILON, None)
    a = np.clip(actual, EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


class _Categories:
    """Bucket counts of one categorical feature: top training categories, other, unseen."""

    def __init__(self, stats: dict[str, Any]) -> None:
        shares = stats["categories"]
        top = list(shares)[:TOP_CATEGORIES]
        self.known = list(shares)
        self.labels = [*top, *([OTHER] if len(shares) > len(top) else []), UNSEEN]
        expected = [shares[c] for c in top] + ([1.0 - sum(shares[c] for c in top)] if len(shares) > len(top) else [])
        self.expected = np.array([*expected, 0.0])
        self.bucket_of = np.array([*range(len(top)), *([len(top)] * (len(shares) - len(top)))], dtype=np.int64)
        self.counts = np.zeros(len(self.labels), dtype=np.int64)

    def update(self, values: pd.Series) -> None:
        present = values.dropna()
        codes = pd.Categorical(present, categories=self.known).codes
        seen = codes >= 0
        self.counts[: len(self.labels) - 1] += np.bincount(self.bucket_of[codes[seen]], minlength=len(self.labels) - 1)
        self.counts[-1] += int((~seen).sum())


class DriftAccumulator:
    def __init__(self, profile: dict[str, Any], feature_names: list[str], threshold: float) -> None:
        self.threshold = threshold
        features = profile["features"]
        known = [n for n in feature_names if n in features]
        self.names = [n for n in known if features[n].get("kind", "numeric") == "numeric"]
        self.categories = {n: _Categories(features[n]) for n in known if features[n].get("kind") == "categorical"}
        stats = [features[n] for n in self.names]
        self.edges = [np.asarray(s["bin_edges"], dtype=float) for s in stats]
        self.expected = [np.asarray(s["bin_fractions"], dtype=float) for s in stats]
        self.grid = [np.asarray(sorted(float(v) for v in s["quantiles"].values())) for s in stats]
        self.grid_cdf = [np.asarray(sorted(float(q) for q in s["quantiles"])) for s in stats]
        self.bin_counts = [np.zeros(len(e) + 1, dtype=np.int64) for e in self.edges]
        self.grid_counts = [np.zeros(len(g), dtype=np.int64) for g in self.grid]
        self.present = [0] * len(self.names)
        self.rows = 0

    def update(self, features: pd.DataFrame) -> None:
        if not len(features):
            return
        self.rows += len(features)
        for i, name in enumerate(self.names):
            values = features[name].to_numpy(dtype="float64")
            values = values[~np.isnan(values)]
            self.present[i] += len(values)
            self.bin_counts[i] += np.bincount(
                np.searchsorted(self.edges[i], values, side="right"), minlength=len(self.edges[i]) + 1
            )
            # rows <= each grid point, without sorting the batch: histogram on the grid, cumulated
            below = np.bincount(np.searchsorted(self.grid[i], values, side="left"), minlength=len(self.grid[i]) + 1)
            self.grid_counts[i] += np.cumsum(below)[:-1]
        for name, buckets in self.categories.items():
            buckets.update(features[name])

    def report(self) -> DriftReport:
        drift = []
        for i, name in enumerate(self.names):
            present = max(self.present[i], 1)
            actual = self.bin_counts[i] / present
            ks = float(np.max(np.abs(self.grid_counts[i] / present - self.grid_cdf[i]), initial=0.0))
            expected = self.expected[i]
            drift.append(
                FeatureDrift(
                    name, psi(expected, actual), ks, expected.tolist(), actual.tolist(), self.edges[i].tolist()
                )
            )
        for name, buckets in self.categories.items():
            actual = buckets.counts / max(int(buckets.counts.sum()), 1)
            shares = buckets.expected
            drift.append(
                FeatureDrift(
                    name,
                    psi(shares, actual),
                    None,
                    shares.tolist(),
                    actual.tolist(),
                    list(buckets.labels),
                    "categorical",
                    int(buckets.counts[-1]),
                )
            )
        return DriftReport(drift, self.threshold, self.rows)
