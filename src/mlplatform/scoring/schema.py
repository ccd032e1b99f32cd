"""Input columns checked against the model signature before any output is written."""

from __future__ import annotations

import pyarrow as pa

from mlplatform.errors import DataError

# Columns a partitioned layout or our own outputs may carry that are not features.
IGNORED_COLUMNS = frozenset({"date"})


def check_input_schema(schema: pa.Schema, features: list[str], id_column: str | None, source: str) -> None:
    """Missing, extra or non-numeric columns are a DataError naming the column."""
    names = schema.names
    missing = [f for f in features if f not in names]
    if missing:
        raise DataError(
            f"input {source} lacks column {missing[0]!r} the model needs (model columns: {', '.join(features)})",
            "add the column, or score with a model trained on these columns",
        )
    if id_column is not None and id_column not in names:
        raise DataError(f"id column {id_column!r} not in input {source}", "fix --id-column or add the column")
    expected = {*features, *([id_column] if id_column else [])}
    extra = [n for n in names if n not in expected and n not in IGNORED_COLUMNS]
    if extra:
        raise DataError(
            f"input {source} has column {extra[0]!r} the model does not know",
            "drop it, or name it as the row id with --id-column",
        )
    for name in features:
        kind = schema.field(name).type
        if not (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_null(kind)
            or pa.types.is_boolean(kind)
        ):
            raise DataError(
                f"input column {name!r} of {source} has type {kind}, the model expects numbers",
                f"make {name!r} numeric (check for text values in it)",
            )
