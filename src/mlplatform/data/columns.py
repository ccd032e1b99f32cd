"""What each column of a table is for: a numeric or a categorical feature, the label, the row id,
or not used (and why). Pure.

The same conversion (`feature_frame`) turns raw columns into model input at training and at
scoring, so the logged model sees exactly the same kind of values in both: numbers as float64
with NaN for missing, categories as strings with None for missing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

from mlplatform.errors import DataError

FeatureKind = Literal["numeric", "categorical"]
MAX_CATEGORIES = 1000  # a string column with more distinct values is free text, not a category
MIN_ROWS_FOR_HEURISTICS = 20  # below this, "unique per row" says nothing


@dataclass(frozen=True)
class ColumnRoles:
    """What the user says about the columns; everything else is inferred."""

    target: str
    id_column: str | None = None
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()  # force these to categories (e.g. small integer codes)


@dataclass(frozen=True)
class FeaturePlan:
    """The features, in column order, with their kind; the columns left out, with the reason."""

    kinds: dict[str, FeatureKind]
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.kinds)

    @property
    def numeric(self) -> list[str]:
        return [name for name, kind in self.kinds.items() if kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [name for name, kind in self.kinds.items() if kind == "categorical"]


def plan_features(frame: pd.DataFrame, roles: ColumnRoles) -> FeaturePlan:
    """Decide the kind of every candidate feature column, or why it is not used."""
    for name in (roles.id_column, *roles.drop, *roles.categorical):
        if name is not None and name not in frame.columns:
            columns = ", ".join(map(str, frame.columns[:20]))
            raise DataError(f"column {name!r} not found (columns: {columns})", "check the column names you passed")
    skipped = {roles.target, roles.id_column, *roles.drop}
    kinds: dict[str, FeatureKind] = {}
    dropped: dict[str, str] = {}
    for name in frame.columns:
        if name in skipped:
            continue
        kind, reason = _kind_of(frame[name], str(name), name in roles.categorical)
        if kind is None:
            dropped[str(name)] = reason
        else:
            kinds[str(name)] = kind
    if not kinds:
        raise DataError(
            "the data has no usable feature columns besides the target"
            + (f" ({', '.join(f'{n}: {why}' for n, why in dropped.items())})" if dropped else ""),
            "add feature columns, or check --drop-columns / --id-column",
        )
    return FeaturePlan(kinds, dropped)


def _kind_of(column: pd.Series, name: str, forced_categorical: bool) -> tuple[FeatureKind | None, str]:
    values = column.dropna()
    if values.empty:
        return None, "it has no values (all missing)"
    if forced_categorical or pd.api.types.is_bool_dtype(column.dtype) or isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical", ""
    if _is_temporal(column, values):
        return None, "datetime columns are not used as features: derive numbers from it (day of week, age, ...)"
    if pd.api.types.is_numeric_dtype(column.dtype):
        if _looks_like_row_number(values):
            return None, f"it looks like a row identifier (a different whole number in every row): {_ID_HINT}"
        return "numeric", ""
    booleans = values.map(lambda v: isinstance(v, bool | np.bool_))
    if booleans.all():
        return "categorical", ""
    parsed = pd.to_numeric(values.where(~booleans), errors="coerce").notna()
    if parsed.all():
        return "numeric", ""
    if parsed.mean() >= 0.9:
        bad = values[~parsed]
        raise DataError(
            f"feature {name!r} is mostly numbers but has text values "
            f"(e.g. {bad.iloc[0]!r} at row {frame_row(column, bad.index[0])})",
            f"fix those values, or treat the column as categories with --categorical {name}",
        )
    distinct = values.astype(str).nunique()
    if len(values) >= MIN_ROWS_FOR_HEURISTICS and distinct == len(values):
        return None, f"it looks like an identifier (a different value in every row): {_ID_HINT}"
    if distinct > MAX_CATEGORIES or (len(values) >= MIN_ROWS_FOR_HEURISTICS and distinct > len(values) / 2):
        return None, f"it looks like free text ({distinct} distinct values in {len(values)} rows): drop or encode it"
    return "categorical", ""


_ID_HINT = "pass it as --id-column to carry it to the predictions, or --drop-columns to silence this"


def _is_temporal(column: pd.Series, values: pd.Series) -> bool:
    """Timestamps, durations, and dates (Arrow date32 columns arrive as datetime.date objects)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype) or pd.api.types.is_timedelta64_dtype(column.dtype):
        return True
    return column.dtype == object and bool(values.map(lambda v: isinstance(v, datetime.date | datetime.time)).all())


def _looks_like_row_number(values: pd.Series) -> bool:
    if len(values) < MIN_ROWS_FOR_HEURISTICS or not pd.api.types.is_integer_dtype(values.dtype):
        return False
    unique = np.unique(values.to_numpy())
    return len(unique) == len(values) and int(unique[-1] - unique[0]) == len(unique) - 1


def frame_row(column: pd.Series, index: Any) -> int:
    """1-based data row of an index label (the header is not a row)."""
    return int(column.index.get_loc(index)) + 1


def category_strings(values: Any) -> pa.Array:
    """Category values as Arrow strings, null for missing or blank: booleans as 'true'/'false',
    whole numbers without '.0', surrounding spaces trimmed. The one spelling used at training and
    at scoring, whether a value came from CSV, Parquet or pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(values, pa.Array | pa.ChunkedArray):
        try:
            values = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python objects in one pandas column
            values = pa.array([None if pd.isna(v) else str(v) for v in values], pa.string())
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def feature_frame(frame: pd.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    """Model input from raw columns: float64 numbers (NaN = missing), string categories (None)."""
    columns: dict[str, Any] = {}
    for name, kind in plan.kinds.items():
        column = frame[name]
        if kind == "numeric":
            columns[name] = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
        else:
            text = category_strings(column.to_numpy(dtype=object)).to_numpy(zero_copy_only=False)
            columns[name] = pd.Series(text, dtype=object, index=frame.index)
    return pd.DataFrame(columns, index=frame.index)
