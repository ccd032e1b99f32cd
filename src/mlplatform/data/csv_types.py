"""Column types of CSV text from all of a column's values, never from its first block.

pyarrow's CSV reader guesses each column's type from the first block (~1 MB) and then fails on
the first later value that does not fit (a column blank for 28,000 rows, then `NO`). We read CSV
columns as text and type each one here, from every value: the same function types a training
file (whole file) and a scoring batch (its rows), so both spell category values the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlplatform.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

# A whole number written with a leading zero ("00501", "007") is a code, not a quantity.
LEADING_ZERO = r"^[+-]?0[0-9]"
# Letters and digits joined by separators: 98126-2920, A-12, 2024/07, X.25 - codes, not numbers.
CODE = r"^[A-Za-z0-9]+(?:[-/._:#][A-Za-z0-9]+)+$"
_WHOLE = r"^[+-]?[0-9]+$"
_BOOLEANS = ("true", "false")


def null_spellings() -> list[str]:
    """What pyarrow reads as missing in a number column ("", "NA", "NaN", "null", ...): the same
    words are missing in numbers we type ourselves."""
    import pyarrow.csv as pacsv

    return list(pacsv.ConvertOptions().null_values)


def typed_column(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The narrowest type every value fits: booleans (true/false), whole numbers (int64),
    numbers (float64), else text. Blanks are missing whatever the type; the null spellings are
    missing in numbers. Whole numbers with a leading zero stay text (codes: `00501`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(text)
    blank = pc.fill_null(pc.equal(trimmed, ""), True)
    if not pc.any(pc.invert(blank)).as_py():
        return pa.nulls(len(text))  # every value missing: no type to give
    missing = pc.or_(blank, pc.is_in(trimmed, pa.array(null_spellings())))
    present = pc.filter(trimmed, pc.invert(missing))
    if len(present) == 0:
        return pa.nulls(len(text))
    values = pc.if_else(missing, pa.scalar(None, pa.string()), trimmed)
    lower = pc.utf8_lower(present)
    if pc.all(pc.is_in(lower, pa.array(_BOOLEANS))).as_py():
        return pc.equal(pc.utf8_lower(values), "true")
    number = _number(values, present)
    if number is not None:
        return number
    return pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)


def _number(values: pa.Array | pa.ChunkedArray, present: pa.Array | pa.ChunkedArray) -> pa.Array | None:
    """int64 or float64 when every present value is a number, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        floats = pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pc.all(pc.match_substring_regex(present, _WHOLE)).as_py():
        if pc.any(pc.match_substring_regex(present, LEADING_ZERO)).as_py():
            return None
        try:
            return pc.cast(values, pa.int64())
        except pa.ArrowInvalid:  # beyond int64: keep the float
            return floats
    return floats


def typed_table(table: pa.Table) -> pa.Table:
    """Every column of a table read as text, typed from all of its values."""
    import pyarrow as pa

    columns = [typed_column(table.column(name)) for name in table.column_names]
    return pa.table(columns, names=table.column_names)


def numbers(text: pa.Array | pa.ChunkedArray, name: str, source: str, first_row: int) -> pa.Array:
    """float64 from text (blanks and null spellings missing), or a DataError naming the first
    value that is not a number and its data row (`first_row` is the 1-based row of text[0])."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(text)
    missing = pc.or_(pc.fill_null(pc.equal(trimmed, ""), True), pc.is_in(trimmed, pa.array(null_spellings())))
    values = pc.if_else(missing, pa.scalar(None, pa.string()), trimmed)
    try:
        return pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raw = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
        bad = raw.notna() & pd.to_numeric(raw, errors="coerce").isna()
        position = int(bad.to_numpy().argmax())
        raise DataError(
            f"input column {name!r} of {source} has text value {raw.iloc[position]!r} at data row "
            f"{first_row + position}, the model expects numbers",
            f"fix that value (blank means missing), or retrain with {name!r} as a categorical column",
        ) from None
