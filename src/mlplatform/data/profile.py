"""Training data profile: per-feature statistics, quantile bins and per-class moments.

Logged with every model so inference can compare a batch against what the model was trained
on (drift) and generate rows that look like its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PROFILE_VERSION = 1
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def bin_fractions(values: np.ndarray, inner_edges: Sequence[float]) -> np.ndarray:
    """Share of `values` in each of the len(inner_edges)+1 open-ended bins."""
    counts = np.bincount(np.searchsorted(inner_edges, values, side="right"), minlength=len(inner_edges) + 1)
    return counts / max(len(values), 1)


def build_profile(
    features: np.ndarray, feature_names: Sequence[str], labels: np.ndarray, bins: int = 10
) -> dict[str, Any]:
    """A JSON-ready description of the training features; `features` is rows x columns."""
    columns: dict[str, Any] = {}
    for index, name in enumerate(feature_names):
        column = features[:, index]
        edges = np.unique(np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1]))
        columns[name] = {
            "mean": float(column.mean()),
            "std": float(column.std()),
            "min": float(column.min()),
            "max": float(column.max()),
            "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(column, QUANTILES), strict=True)},
            "bin_edges": edges.tolist(),
            "bin_fractions": bin_fractions(column, edges).tolist(),
        }
    classes: dict[str, Any] = {}
    for label in np.unique(labels):
        rows = features[labels == label]
        classes[str(label)] = {
            "label": label.item() if hasattr(label, "item") else label,
            "count": len(rows),
            "fraction": len(rows) / len(labels),
            "mean": rows.mean(axis=0).tolist(),
            "std": rows.std(axis=0).tolist(),
        }
    return {
        "profile_version": PROFILE_VERSION,
        "rows": len(features),
        "feature_names": list(feature_names),
        "features": columns,
        "classes": classes,
    }
