"""What each column of a table is for: a numeric, categorical or datetime feature, the label,
the row id, or not used (and why). Pure.

The same conversion (`feature_frame`) turns raw columns into model input at training and at
scoring, so the logged model sees exactly the same kind of values in both: numbers as float64
with NaN for missing, categories as strings with None for missing, dates and times as ISO text
(the model's pipeline expands them).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

from mlplatform.data.csv_types import CODE, LEADING_ZERO
from mlplatform.errors import DataError

FeatureKind = Literal["numeric", "categorical", "datetime"]
MAX_CATEGORIES = 1000  # more distinct values than this, written as words, is free text
MIN_ROWS_FOR_HEURISTICS = 20  # below this, "unique per row" says nothing
NUMBERS_WITH_TYPOS = 0.9  # a text column this share numbers is numbers with typos (an error), unless codes
# ISO 8601 dates and date-times: 2013-01-01, 2013-01-01 05:00:00, 2013-01-01T05:00:00.5Z, ...+01:00
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?: ?(?:Z|UTC|[+-]\d{2}(?::?\d{2})?))?$"


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
    # categorical columns that were text as read (not booleans or numbers): scoring keeps their
    # values as written, even in a batch where every value happens to look like a number
    text: frozenset[str] = frozenset()

    @property
    def names(self) -> list[str]:
        return list(self.kinds)

    @property
    def numeric(self) -> list[str]:
        return self.of_kind("numeric")

    @property
    def categorical(self) -> list[str]:
        return self.of_kind("categorical")

    @property
    def datetime(self) -> list[str]:
        return self.of_kind("datetime")

    def of_kind(self, kind: FeatureKind) -> list[str]:
        return [name for name, of in self.kinds.items() if of == kind]


def plan_features(frame: pd.DataFrame, roles: ColumnRoles) -> FeaturePlan:
    """Decide the kind of every candidate feature column, or why it is not used. Row numbers in
    errors are data rows of `frame` as read: its index labels (0-based positions) plus one."""
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
    text = frozenset(n for n, kind in kinds.items() if kind == "categorical" and _is_text(frame[n]))
    return FeaturePlan(kinds, dropped, text)


def _is_text(column: pd.Series) -> bool:
    """Strings as read (not booleans or numbers, which pandas may also hold as objects when
    some are missing); a pandas category column by its categories."""
    values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column
    return pd.api.types.infer_dtype(values, skipna=True) == "string"


def _kind_of(column: pd.Series, name: str, forced_categorical: bool) -> tuple[FeatureKind | None, str]:
    values = _present(column)
    if values.empty:
        return None, "it has no values (all missing)"
    if forced_categorical or pd.api.types.is_bool_dtype(column.dtype) or isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical", ""
    if pd.api.types.is_timedelta64_dtype(column.dtype):
        return None, "durations are not used as features: convert it to a number (seconds, days) upstream"
    if _is_temporal(column, values):
        return "datetime", ""
    if pd.api.types.is_numeric_dtype(column.dtype):
        if _looks_like_row_number(values):
            return None, f"it looks like a row identifier (a different whole number in every row): {_ID_HINT}"
        return "numeric", ""
    if values.dtype == object and values.map(lambda v: isinstance(v, bool | np.bool_)).all():
        return "categorical", ""
    return _kind_of_text(values.astype(str).str.strip(), column, name)


def _kind_of_text(text: pd.Series, column: pd.Series, name: str) -> tuple[FeatureKind | None, str]:
    """Text values: ISO dates, numbers, codes spelled with digits, categories, identifiers or
    free text (see the README's "Your own data")."""
    distinct = pd.Series(text.unique())
    if distinct.str.match(_ISO_DATE).all() and _parse_dates(distinct).notna().all():
        return "datetime", ""
    number_levels = distinct[pd.to_numeric(distinct, errors="coerce").notna()]
    parsed = text.isin(number_levels) if len(number_levels) else pd.Series(False, index=text.index)
    if parsed.mean() >= NUMBERS_WITH_TYPOS:
        numbers = text[parsed]
        if numbers.str.match(LEADING_ZERO).any():
            pass  # 00501: codes, even when every value is digits
        elif parsed.all():
            return "numeric", ""
        else:
            typos = text[~parsed & ~text.str.match(CODE)]
            if len(typos):
                raise DataError(
                    f"feature {name!r} is mostly numbers but has text values "
                    f"(e.g. {typos.iloc[0]!r} at data row {frame_row(column, typos.index[0])})",
                    f"fix those values, or treat the column as categories with --categorical {name}",
                )
    rows, levels = len(text), len(distinct)
    wordy = bool(distinct.str.contains(r"\s", regex=True).mean() >= 0.5)  # most values have spaces
    many = levels > MAX_CATEGORIES or (rows >= MIN_ROWS_FOR_HEURISTICS and levels > rows / 2)
    if many and wordy:
        return None, f"it looks like free text ({levels} distinct values in {rows} rows): drop or encode it"
    if rows >= MIN_ROWS_FOR_HEURISTICS and levels == rows:
        return None, f"it looks like an identifier (a different value in every row): {_ID_HINT}"
    if rows >= MIN_ROWS_FOR_HEURISTICS and levels > rows / 2:
        return None, f"it looks like an identifier ({levels} distinct values in {rows} rows): {_ID_HINT}"
    return "categorical", ""


_ID_HINT = "pass it as --id-column to carry it to the predictions, or --drop-columns to silence this"


def _present(column: pd.Series) -> pd.Series:
    """The values that are there: missing and blank (whitespace only) ones left out."""
    values = column.dropna()
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return values[values.str.strip() != ""]
    if values.dtype == object:
        blank = values.map(lambda v: isinstance(v, str) and not v.strip())
        return values[~blank.astype(bool)]
    return values


def _parse_dates(text: pd.Series) -> pd.Series:
    """ISO 8601 text as UTC instants (NaT where it is not a date), as the model's encoder reads it."""
    return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")


def _is_temporal(column: pd.Series, values: pd.Series) -> bool:
    """Timestamps and dates (Arrow date32 columns arrive as datetime.date objects)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return True
    return column.dtype == object and bool(values.map(lambda v: isinstance(v, datetime.date)).all())


def _looks_like_row_number(values: pd.Series) -> bool:
    if len(values) < MIN_ROWS_FOR_HEURISTICS or not pd.api.types.is_integer_dtype(values.dtype):
        return False
    unique = np.unique(values.to_numpy())
    return len(unique) == len(values) and int(unique[-1] - unique[0]) == len(unique) - 1


def frame_row(column: pd.Series, label: Any) -> int:
    """1-based data row of an index label, the header not counted. Frames as read have 0-based
    positions as labels, kept when rows are left out (unlabeled ones), so the number is the
    row's place in the file (in file-name order for a folder)."""
    if isinstance(label, int | np.integer):
        return int(label) + 1
    return int(column.index.get_loc(label)) + 1


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
        if kind == "numeric" and pd.api.types.is_numeric_dtype(column.dtype):
            columns[name] = column.to_numpy(dtype="float64", na_value=np.nan)
        elif kind == "numeric":
            columns[name] = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
        elif kind == "datetime":  # ISO text, as a CSV or Parquet column reaches the model at scoring
            text = category_strings(column).to_numpy(zero_copy_only=False)
            columns[name] = pd.Series(text, dtype=object, index=frame.index)
        else:
            text = category_strings(column.to_numpy(dtype=object)).to_numpy(zero_copy_only=False)
            columns[name] = pd.Series(text, dtype=object, index=frame.index)
    return pd.DataFrame(columns, index=frame.index)
