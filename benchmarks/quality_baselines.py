"""What a data scientist would write in a notebook for the quality benchmark: hand-built
scikit-learn pipelines, fitted and scored on the same holdout rows as `mlplatform train`.

Two candidates per table, the better one is the baseline:
- forest: median imputation, one-hot for text columns with at most 50 levels, the same
  RandomForest settings as the product (sqrt features for classes, all for quantities);
- boosting: HistGradientBoosting with native categories: every text column that is not unique
  to nearly every row, its 255 most frequent levels as codes (scikit-learn's max_categories).
Both expand date columns by hand (year, month, day, hour, weekday).
The forest is skipped above FOREST_MAX_ROWS training rows (minutes of fitting for no insight:
boosting is the stronger baseline there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

HOLDOUT = 0.2
SEED = 42
FOREST_MAX_ROWS = 100_000
ISO = r"^\d{4}-\d{2}-\d{2}"


@dataclass(frozen=True)
class Baseline:
    name: str
    score: float
    seconds: float


def holdout(frame: pd.DataFrame, target: str, task: str) -> tuple[pd.DataFrame, pd.DataFrame, Any, Any]:
    """The rows `mlplatform train` holds out: labelled rows in file order, 20%, seed 42,
    stratified by class."""
    from sklearn.model_selection import train_test_split

    frame = frame.dropna(subset=[target]).reset_index(drop=True)
    y = frame[target].to_numpy()
    x = frame.drop(columns=[target])
    stratify = y if task == "classification" else None
    return train_test_split(x, y, test_size=HOLDOUT, random_state=SEED, stratify=stratify)  # type: ignore[return-value]


def _with_dates(x: pd.DataFrame) -> pd.DataFrame:
    """Date columns (typed or ISO text) expanded by hand; the originals dropped."""
    x = x.copy()
    for name in list(x.columns):
        column = x[name]
        is_text = column.dtype == object or pd.api.types.is_string_dtype(column.dtype)
        if is_text and column.dropna().astype(str).str.match(ISO).all() and column.notna().any():
            stamps = pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")
            for part in ("year", "month", "day", "hour", "dayofweek"):
                x[f"{name}_{part}"] = getattr(stamps.dt, part).astype("float64")
            x = x.drop(columns=name)
    return x


def _columns(x: pd.DataFrame, max_levels: int) -> tuple[list[str], list[str]]:
    """Numeric columns, and text columns with at most `max_levels` levels (and fewer than half
    the rows: names and ids are not categories); row numbers left out."""
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and not pd.api.types.is_bool_dtype(x[c])]
    text = [c for c in x.columns if c not in numeric and c != "rownames"]
    levels = {c: x[c].nunique() for c in text}
    return [c for c in numeric if c != "rownames"], [c for c in text if levels[c] <= min(max_levels, len(x) / 2)]


def forest(x_train: pd.DataFrame, x_test: pd.DataFrame, y_train: Any, y_test: Any, task: str) -> Baseline | None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    if len(x_train) > FOREST_MAX_ROWS:
        return None
    x_train, x_test = _with_dates(x_train), _with_dates(x_test)
    numeric, categorical = _columns(x_train, 50)
    x_train, x_test = _as_text(x_train, categorical), _as_text(x_test, categorical)
    preprocess = ColumnTransformer([
        ("numeric", SimpleImputer(strategy="median"), numeric),
        ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore")), categorical),
    ])  # fmt: skip
    settings = {"n_estimators": 100, "max_depth": 10, "random_state": SEED, "n_jobs": 1}
    if task == "classification":
        model = RandomForestClassifier(**settings, max_features="sqrt")
    else:
        model = RandomForestRegressor(**settings, max_features=1.0)
    return _fit_score("forest", Pipeline([("p", preprocess), ("m", model)]), x_train, x_test, y_train, y_test, task)


def boosting(x_train: pd.DataFrame, x_test: pd.DataFrame, y_train: Any, y_test: Any, task: str) -> Baseline:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    x_train, x_test = _with_dates(x_train), _with_dates(x_test)
    numeric, categorical = _columns(x_train, len(x_train))
    x_train, x_test = _as_text(x_train, categorical), _as_text(x_test, categorical)
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                             max_categories=255)  # fmt: skip
    preprocess = ColumnTransformer([("numeric", "passthrough", numeric), ("categorical", encoder, categorical)])
    family = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    indices = list(range(len(numeric), len(numeric) + len(categorical))) or None
    model = family(categorical_features=indices, random_state=SEED)
    return _fit_score("boosting", Pipeline([("p", preprocess), ("m", model)]), x_train, x_test, y_train, y_test, task)


def _as_text(x: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    x = x.copy()
    for name in categorical:
        x[name] = x[name].astype(object).where(x[name].notna(), None).map(lambda v: v if v is None else str(v))
    return x


def _fit_score(name: str, model: Any, x_train: Any, x_test: Any, y_train: Any, y_test: Any, task: str) -> Baseline:
    from sklearn.metrics import f1_score, r2_score

    started = time.perf_counter()
    model.fit(x_train, y_train)
    seconds = time.perf_counter() - started
    predicted = model.predict(x_test)
    if task == "classification":
        score = f1_score(y_test, predicted, average="macro", zero_division=0)
    else:
        score = r2_score(y_test, predicted)
    return Baseline(name, float(score), seconds)


def best(frame: pd.DataFrame, target: str, task: str) -> tuple[Baseline, list[Baseline]]:
    """The better hand-built pipeline on the product's holdout, and every candidate."""
    x_train, x_test, y_train, y_test = holdout(frame, target, task)
    if task == "classification":
        y_train, y_test = y_train.astype(str), y_test.astype(str)
    candidates = [b for b in (forest(x_train, x_test, y_train, y_test, task),
                              boosting(x_train, x_test, y_train, y_test, task)) if b is not None]  # fmt: skip
    return max(candidates, key=lambda b: b.score), candidates
