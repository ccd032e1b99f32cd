"""The preprocessing every model family shares, made part of the logged model: one scikit-learn
Pipeline (impute, encode categories, expand dates, the estimator), so scoring takes the raw
columns and applies exactly what training did. Families with native missing-value and
categorical support (HistGradientBoosting) get ordinal codes and NaN instead of imputation and
one-hot columns.

Categories are capped by frequency, fitted on the training split: the most frequent levels keep
a column (one-hot) or a code (native) of their own, the rest - and values never seen - share
one "infrequent" bucket. Dates and times (ISO text) become year, month, day, hour, weekday and
seconds since 1970 (skrub's DatetimeEncoder), UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ONE_HOT_MAX_CATEGORIES = 50  # rarer categories share one column ("infrequent"), unseen ones too
NATIVE_MAX_CATEGORIES = 255  # HistGradientBoosting takes at most max_bins (<= 255) levels a feature
# What skops must trust to load a pipeline that expands dates (besides the family's own types).
DATETIME_TRUSTED = ("pandas.to_datetime", "skrub._datetime_encoder.DatetimeEncoder")
_PARSE_ISO = {"format": "ISO8601", "utc": True, "errors": "coerce"}  # unparseable text -> missing


def build_pipeline(
    estimator: Any,
    numeric: Sequence[str],
    categorical: Sequence[str],
    native: bool,
    datetime: Sequence[str] = (),
    max_categories: int | None = None,
) -> Any:
    """Raw columns -> model input -> `estimator`. `native`: the estimator takes NaN and
    categorical codes itself (set `categorical_features` on it from `categorical_indices`).
    `max_categories`: levels per categorical feature, the infrequent bucket included."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    transformers: list[tuple[str, Any, Any]] = []
    if numeric:
        numbers: Any = "passthrough" if native else SimpleImputer(strategy="median", keep_empty_features=True)
        transformers.append(("numeric", numbers, list(numeric)))
    if categorical:
        cap = max_categories or (NATIVE_MAX_CATEGORIES if native else ONE_HOT_MAX_CATEGORIES)
        transformers.append(("categorical", _categories(native, cap), list(categorical)))
    # one transformer a date column (the encoder takes one column), after the categorical ones
    transformers += [(f"datetime:{name}", _dates(native), name) for name in datetime]
    preprocess = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def _categories(native: bool, cap: int) -> Any:
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if native:
        return OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan, max_categories=cap
        )
    # missing is a category of its own; unseen values fall into "infrequent" (or none)
    return OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=cap, sparse_output=False)


def _dates(native: bool) -> Any:
    """ISO text -> UTC datetimes (pandas) -> numeric parts (skrub); imputed unless native."""
    import pandas as pd
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from skrub import DatetimeEncoder

    steps: list[Any] = [
        FunctionTransformer(pd.to_datetime, kw_args=dict(_PARSE_ISO)),
        DatetimeEncoder(resolution="hour", add_weekday=True),
    ]
    if not native:
        steps.append(SimpleImputer(strategy="median", keep_empty_features=True))
    return make_pipeline(*steps)


def categorical_indices(numeric: Sequence[str], categorical: Sequence[str]) -> list[int]:
    """Where the categorical columns land in the preprocessed matrix (after the numeric ones)."""
    return list(range(len(numeric), len(numeric) + len(categorical)))


@dataclass(frozen=True)
class Encoding:
    """What a fitted pipeline did with one categorical column: levels in the training split,
    levels encoded on their own (the rest share the infrequent bucket)."""

    levels: int
    kept: int

    @property
    def capped(self) -> bool:
        return self.kept < self.levels


def encodings(model: Any, categorical: Sequence[str]) -> dict[str, Encoding]:
    """Per categorical column of a fitted `build_pipeline`, its levels and how many were kept."""
    if not categorical:
        return {}
    encoder = model.named_steps["preprocess"].named_transformers_["categorical"]
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * len(categorical)
    found: dict[str, Encoding] = {}
    for name, levels, rare in zip(categorical, encoder.categories_, infrequent, strict=True):
        seen = int(sum(1 for level in levels if not _missing(level)))
        found[name] = Encoding(seen, seen - (len(rare) if rare is not None else 0))
    return found


def _missing(level: Any) -> bool:
    return level is None or (isinstance(level, float) and np.isnan(level))


def datetime_features(model: Any, name: str) -> list[str]:
    """The numeric parts a fitted pipeline derives from date column `name`."""
    encoder = model.named_steps["preprocess"].named_transformers_[f"datetime:{name}"]
    return [str(feature).removeprefix(f"{name}_") for feature in encoder[1].all_outputs_]


def input_columns(model: Any, columns: Sequence[str]) -> dict[str, list[int]] | None:
    """Per raw column of a fitted `build_pipeline`, the columns of the preprocessed matrix made
    from it (one-hot categories and dates make several); None when the pipeline's shape is not
    known here (then callers work on raw columns)."""
    try:
        preprocess = model.named_steps["preprocess"]
        slices = preprocess.output_indices_
    except (AttributeError, KeyError):
        return None
    found: dict[str, list[int]] = {}
    for name, transformer, inputs in preprocess.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        names = [inputs] if isinstance(inputs, str) else [str(column) for column in inputs]
        outputs = list(range(slices[name].start, slices[name].stop))
        widths = _output_widths(transformer, len(names), len(outputs))
        if widths is None:
            return None
        for column, width in zip(names, widths, strict=True):
            found[column], outputs = outputs[:width], outputs[width:]
    return found if sorted(found) == sorted(columns) else None


def _output_widths(transformer: Any, inputs: int, outputs: int) -> list[int] | None:
    from sklearn.preprocessing import OneHotEncoder

    if inputs == 1:
        return [outputs]
    if inputs == outputs:  # passthrough, imputers, ordinal codes: one column each
        return [1] * inputs
    if isinstance(transformer, OneHotEncoder):  # its levels, the infrequent ones as one column
        rare = getattr(transformer, "infrequent_categories_", None) or [None] * inputs
        levels = transformer.categories_
        widths = [len(kept) - (len(r) - 1 if r is not None else 0) for kept, r in zip(levels, rare, strict=True)]
        return widths if sum(widths) == outputs else None
    return None
