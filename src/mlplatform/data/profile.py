"""Training data profile: per feature its kind, missing share, numeric quantiles and bins or
category frequencies; per class the numeric moments; the target.

Logged with every model so inference can compare a batch against what the model was trained
on (drift), generate rows that look like its data, and so people can read what the model saw
(`data_report_markdown`).
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

PROFILE_VERSION = 2
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_CATEGORIES = 20  # shown in the report; the profile keeps every category (at most MAX_CATEGORIES)


def bin_fractions(values: np.ndarray, inner_edges: Sequence[float]) -> np.ndarray:
    """Share of `values` in each of the len(inner_edges)+1 open-ended bins."""
    counts = np.bincount(np.searchsorted(inner_edges, values, side="right"), minlength=len(inner_edges) + 1)
    return counts / max(len(values), 1)


def _numeric(column: np.ndarray, bins: int) -> dict[str, Any]:
    missing = np.isnan(column)
    present = column[~missing]
    if not len(present):
        present = np.zeros(1)
    inner = np.linspace(0, 1, bins + 1)[1:-1]
    cuts = np.quantile(present, np.concatenate([inner, QUANTILES]))  # one partial sort for both
    edges = np.unique(cuts[: len(inner)])
    return {
        "kind": "numeric",
        "missing": float(missing.mean()),
        "mean": float(present.mean()),
        "std": float(present.std()),
        "min": float(present.min()),
        "max": float(present.max()),
        "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, cuts[len(inner) :], strict=True)},
        "bin_edges": edges.tolist(),
        "bin_fractions": bin_fractions(present, edges).tolist(),
    }


def _categorical(column: pd.Series) -> dict[str, Any]:
    counts = column.value_counts(dropna=True, sort=True)  # one hash pass: missing values left out
    present = int(counts.sum())
    shares = counts / max(present, 1)
    return {
        "kind": "categorical",
        "missing": (len(column) - present) / len(column) if len(column) else 0.0,
        "distinct": len(shares),
        "categories": {str(k): float(v) for k, v in shares.items()},
    }


def _datetime(column: pd.Series) -> dict[str, Any]:
    """Dates and times (ISO text) as seconds since 1970, UTC: their range and quantiles, so rows
    can be generated; no drift is computed on them (later dates are not drift)."""
    instants = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
    seconds = (instants.dropna() - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    if not len(seconds):
        seconds = np.zeros(1)
    return {
        "kind": "datetime",
        "missing": float(instants.isna().mean()),
        "min": float(seconds.min()),
        "max": float(seconds.max()),
        "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(seconds, QUANTILES), strict=True)},
    }


def build_profile(
    features: pd.DataFrame,
    kinds: dict[str, str],
    labels: np.ndarray,
    task: str = "classification",
    *,
    target: str | None = None,
    id_column: str | None = None,
    ignored: Sequence[str] = (),
    bins: int = 10,
    text: Collection[str] = (),
) -> dict[str, Any]:
    """A JSON-ready description of the training features (model input: float64 numbers with
    NaN, string categories with None). `text`: the categorical columns that were text as read
    (`FeaturePlan.text`), marked so scoring spells their values as written."""
    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        if kind == "numeric":
            columns[name] = _numeric(features[name].to_numpy(dtype="float64"), bins)
        elif kind == "datetime":
            columns[name] = _datetime(features[name])
        else:
            columns[name] = _categorical(features[name]) | ({"text": True} if name in text else {})
    numeric = [name for name, kind in kinds.items() if kind == "numeric"]
    profile: dict[str, Any] = {
        "profile_version": PROFILE_VERSION,
        "rows": len(features),
        "feature_names": list(kinds),
        "features": columns,
        "task": task,
        "target": {"name": target},
        "id_column": id_column,
        "ignored_columns": list(ignored),
        "classes": {},
    }
    if task == "classification":
        matrix = features[numeric].to_numpy(dtype="float64") if numeric else np.zeros((len(features), 0))
        for label in np.unique(labels):
            rows = matrix[labels == label]
            profile["classes"][str(label)] = {
                "label": label.item() if hasattr(label, "item") else label,
                "count": len(rows),
                "fraction": len(rows) / len(labels),
                "mean": dict(zip(numeric, _nan_safe(np.nanmean, rows), strict=True)),
                "std": dict(zip(numeric, _nan_safe(np.nanstd, rows), strict=True)),
            }
    else:
        values = np.asarray(labels, dtype="float64")
        profile["target"] |= {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)},
        }
    return profile


def _nan_safe(function: Any, rows: np.ndarray) -> list[float]:
    if not len(rows):
        return [0.0] * rows.shape[1]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column in one class
        values = function(rows, axis=0)
    return [0.0 if np.isnan(v) else float(v) for v in values]


def upgrade(profile: dict[str, Any] | None) -> dict[str, Any] | None:
    """Profiles of models trained before version 2 (all features numeric, class moments as lists)
    in today's shape, so drift and generated rows work for them too."""
    if profile is None or profile.get("profile_version", 1) >= PROFILE_VERSION:
        return profile
    names = list(profile["feature_names"])
    upgraded = dict(profile)
    upgraded["features"] = {n: {"kind": "numeric", "missing": 0.0, **profile["features"][n]} for n in names}
    upgraded["classes"] = {
        key: {**c, "mean": dict(zip(names, c["mean"], strict=True)), "std": dict(zip(names, c["std"], strict=True))}
        for key, c in profile["classes"].items()
    }
    upgraded |= {
        "profile_version": PROFILE_VERSION,
        "task": "classification",
        "target": {"name": None},
        "id_column": None,
        "ignored_columns": [],
    }
    return upgraded


def data_report_markdown(profile: dict[str, Any], dropped: dict[str, str] | None = None) -> str:
    """What the model was trained on, for people: one row per feature, then the target."""
    lines = [
        f"# Training data: {profile['rows']:,} rows, {len(profile['feature_names'])} features",
        "",
        f"Task: {profile.get('task', 'classification')}; target: `{profile.get('target', {}).get('name')}`"
        + (f"; row id: `{profile['id_column']}`" if profile.get("id_column") else ""),
        "",
        "| feature | kind | missing | values |",
        "|---|---|---|---|",
    ]
    for name in profile["feature_names"]:
        stats = profile["features"][name]
        if stats["kind"] == "datetime":
            values = f"{_iso(stats['min'])} … {_iso(stats['max'])} (expanded to year, month, day, hour, weekday)"
        elif stats["kind"] == "numeric":
            q = stats["quantiles"]
            values = (
                f"min {stats['min']:.4g} · p25 {q['0.25']:.4g} · median {q['0.5']:.4g} · "
                f"p75 {q['0.75']:.4g} · max {stats['max']:.4g}"
            )
        else:
            top = list(stats["categories"].items())[:TOP_CATEGORIES]
            values = ", ".join(f"{k} {v:.1%}" for k, v in top)
            values += f" (+{stats['distinct'] - len(top)} more)" if stats["distinct"] > len(top) else ""
        lines.append(f"| `{name}` | {stats['kind']} | {stats['missing']:.1%} | {values} |")
    if profile.get("classes"):
        lines += ["", "| class | rows | share |", "|---|---|---|"]
        lines += [f"| {k} | {c['count']:,} | {c['fraction']:.1%} |" for k, c in profile["classes"].items()]
    if dropped:
        lines += ["", "Columns not used:", ""] + [f"- `{name}`: {why}" for name, why in dropped.items()]
    return "\n".join(lines) + "\n"


def _iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()
