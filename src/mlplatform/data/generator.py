"""Iris-like rows drawn from a model's training profile, so a demo batch looks like its data.

Each row picks a class with the training class frequencies, then draws every feature from that
class's mean and standard deviation, clipped to the feature's training range. Batches are
generated one at a time (bounded memory) from a seed and the batch's first row id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mlplatform.errors import DataError

DECIMALS = 2  # measured like Iris (which has 1); short numbers are also cheaper to serialise


def generated_batches(
    profile: dict[str, Any] | None,
    feature_names: list[str],
    rows: int,
    seed: int,
    batch_size: int,
    row_id_offset: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(row_ids, features) batches; features are rows x len(feature_names) float64."""
    if profile is None:
        raise DataError(
            "the model has no training profile to generate rows from",
            "score files with --input, or use a model trained by `mlplatform train`",
        )
    columns = profile["feature_names"]
    missing = [name for name in feature_names if name not in columns]
    if missing:
        raise DataError(f"the training profile lacks feature {missing[0]!r}", "score files with --input")
    order = [columns.index(name) for name in feature_names]
    classes = list(profile["classes"].values())
    weights = np.array([c["fraction"] for c in classes], dtype=float)
    weights /= weights.sum()
    means = np.array([c["mean"] for c in classes], dtype=float)[:, order]
    stds = np.array([c["std"] for c in classes], dtype=float)[:, order]
    low = np.array([profile["features"][n]["min"] for n in feature_names])
    high = np.array([profile["features"][n]["max"] for n in feature_names])
    for start in range(0, rows, batch_size):
        size = min(batch_size, rows - start)
        rng = np.random.default_rng([seed, start])
        picked = rng.choice(len(classes), size=size, p=weights)
        features = means[picked] + stds[picked] * rng.standard_normal((size, len(feature_names)))
        np.clip(features, low, high, out=features)
        np.round(features, DECIMALS, out=features)
        yield np.arange(row_id_offset + start, row_id_offset + start + size, dtype=np.int64), features
