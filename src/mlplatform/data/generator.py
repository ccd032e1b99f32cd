"""Rows drawn from a model's training profile, so a demo batch looks like its data.

Classification: each row picks a class with the training class frequencies, then draws every
numeric feature from that class's mean and standard deviation, clipped to the training range.
Regression: numeric features from their training quantiles. Categorical features are drawn
from the training category frequencies, dates and times (ISO text) from their quantiles; each
feature is blank in the same share of rows as in training. Batches are generated one at a time
(bounded memory) from a seed and the batch's first row id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from mlplatform.errors import DataError

DECIMALS = 2  # measured like Iris (which has 1); short numbers are also cheaper to serialise


def generated_batches(
    profile: dict[str, Any] | None,
    feature_names: list[str],
    rows: int,
    seed: int,
    batch_size: int,
    row_id_offset: int = 0,
) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    """(row_ids, model input) batches, columns in `feature_names` order."""
    if profile is None:
        raise DataError(
            "the model has no training profile to generate rows from",
            "score files with --input, or use a model trained by `mlplatform train`",
        )
    stats = profile["features"]
    missing = [name for name in feature_names if name not in stats]
    if missing:
        raise DataError(f"the training profile lacks feature {missing[0]!r}", "score files with --input")
    numeric = [name for name in feature_names if stats[name]["kind"] == "numeric"]
    classes = list(profile.get("classes", {}).values())
    for start in range(0, rows, batch_size):
        size = min(batch_size, rows - start)
        rng = np.random.default_rng([seed, start])
        columns: dict[str, Any] = {}
        if classes:
            columns |= _numeric_by_class(rng, size, classes, numeric, stats)
        else:
            columns |= {name: _from_quantiles(rng, size, stats[name]) for name in numeric}
        for name in feature_names:
            if stats[name]["kind"] == "datetime":
                columns[name] = _datetimes(rng, size, stats[name])
            elif name not in columns:
                columns[name] = _categories(rng, size, stats[name])
            _blank(rng, columns[name], stats[name].get("missing", 0.0))
        ids = np.arange(row_id_offset + start, row_id_offset + start + size, dtype=np.int64)
        frame = {name: pd.Series(columns[name], dtype=None if name in numeric else object) for name in feature_names}
        yield ids, pd.DataFrame(frame)


def _numeric_by_class(
    rng: np.random.Generator, size: int, classes: list[dict[str, Any]], numeric: list[str], stats: dict[str, Any]
) -> dict[str, np.ndarray]:
    weights = np.array([c["fraction"] for c in classes], dtype=float)
    picked = rng.choice(len(classes), size=size, p=weights / weights.sum())
    means = np.array([[c["mean"][n] for n in numeric] for c in classes], dtype=float)
    stds = np.array([[c["std"][n] for n in numeric] for c in classes], dtype=float)
    features = means[picked] + stds[picked] * rng.standard_normal((size, len(numeric)))
    low = np.array([stats[n]["min"] for n in numeric])
    high = np.array([stats[n]["max"] for n in numeric])
    np.clip(features, low, high, out=features)
    np.round(features, DECIMALS, out=features)
    return {name: np.ascontiguousarray(features[:, i]) for i, name in enumerate(numeric)}


def _from_quantiles(rng: np.random.Generator, size: int, stats: dict[str, Any]) -> np.ndarray:
    """Inverse CDF through (0, min), the profile's quantiles and (1, max)."""
    return np.round(np.interp(rng.random(size), *_cdf(stats)), DECIMALS)


def _cdf(stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, values): (0, min), the profile's quantiles, (1, max)."""
    points = sorted((float(q), v) for q, v in stats["quantiles"].items())
    cdf = np.array([0.0, *(q for q, _ in points), 1.0])
    return cdf, np.array([stats["min"], *(v for _, v in points), stats["max"]])


def _datetimes(rng: np.random.Generator, size: int, stats: dict[str, Any]) -> np.ndarray:
    """ISO text drawn through the training quantiles of the seconds since 1970 (UTC)."""
    seconds = np.interp(rng.random(size), *_cdf(stats))
    return pd.to_datetime(seconds.round(), unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)


def _categories(rng: np.random.Generator, size: int, stats: dict[str, Any]) -> np.ndarray:
    categories = list(stats["categories"])
    if not categories:
        return np.full(size, None, dtype=object)
    weights = np.array(list(stats["categories"].values()), dtype=float)
    picked = rng.choice(len(categories), size=size, p=weights / weights.sum())
    return np.array(categories, dtype=object)[picked]


def _blank(rng: np.random.Generator, column: np.ndarray, share: float) -> None:
    """Leave the training share of values missing (NaN for numbers, None for categories)."""
    if share <= 0:
        return
    hit = rng.random(len(column)) < share
    column[hit] = np.nan if column.dtype.kind == "f" else None
