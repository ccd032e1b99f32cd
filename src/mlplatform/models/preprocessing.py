"""The preprocessing every model family shares, made part of the logged model: one scikit-learn
Pipeline (impute, encode categories, the estimator), so scoring takes the raw columns and
applies exactly what training did. Families with native missing-value and categorical support
(HistGradientBoosting) get ordinal codes and NaN instead of imputation and one-hot columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

ONE_HOT_MAX_CATEGORIES = 50  # rarer categories share one column ("infrequent"), unseen ones too
NATIVE_MAX_CATEGORIES = 254  # HistGradientBoosting bins categories into at most 255 codes


def build_pipeline(estimator: Any, numeric: Sequence[str], categorical: Sequence[str], native: bool) -> Any:
    """Raw columns -> model input -> `estimator`. `native`: the estimator takes NaN and
    categorical codes itself (set `categorical_features` on it from `categorical_indices`)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        numbers: Any = "passthrough" if native else SimpleImputer(strategy="median", keep_empty_features=True)
        transformers.append(("numeric", numbers, list(numeric)))
    if categorical:
        if native:
            categories: Any = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
                max_categories=NATIVE_MAX_CATEGORIES,
            )
        else:  # missing is a category of its own; unseen values fall into "infrequent" (or none)
            categories = OneHotEncoder(
                handle_unknown="infrequent_if_exist", max_categories=ONE_HOT_MAX_CATEGORIES, sparse_output=False
            )
        transformers.append(("categorical", categories, list(categorical)))
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def categorical_indices(numeric: Sequence[str], categorical: Sequence[str]) -> list[int]:
    """Where the categorical columns land in the preprocessed matrix (after the numeric ones)."""
    return list(range(len(numeric), len(numeric) + len(categorical)))
