"""Input columns checked against the model's raw input (its signature) before any output."""

from __future__ import annotations

from collections.abc import Collection

import pyarrow as pa

from mlplatform.errors import DataError

# Columns a partitioned layout or our own outputs may carry that are not features.
IGNORED_COLUMNS = frozenset({"date"})


def check_input_schema(
    schema: pa.Schema,
    kinds: dict[str, str],
    id_column: str | None,
    source: str,
    ignored: Collection[str] = (),
) -> None:
    """Missing or unknown columns, and columns of the wrong type, are a DataError naming the
    column. `ignored`: columns training did not use (its target, dropped columns)."""
    names = schema.names
    missing = [f for f in kinds if f not in names]
    if missing:
        raise DataError(
            f"input {source} lacks column {missing[0]!r} the model needs (model columns: {', '.join(kinds)})",
            "add the column, or score with a model trained on these columns",
        )
    if id_column is not None and id_column not in names:
        raise DataError(f"id column {id_column!r} not in input {source}", "fix --id-column or add the column")
    expected = {*kinds, *([id_column] if id_column else []), *ignored, *IGNORED_COLUMNS}
    extra = [n for n in names if n not in expected]
    if extra:
        raise DataError(
            f"input {source} has column {extra[0]!r} the model does not know",
            "drop it, or name it as the row id with --id-column",
        )
    for name, kind in kinds.items():
        _check_type(name, kind, schema.field(name).type, source)


def _check_type(name: str, kind: str, kind_of_data: pa.DataType, source: str) -> None:
    numeric = pa.types.is_integer(kind_of_data) or pa.types.is_floating(kind_of_data) or pa.types.is_null(kind_of_data)
    if kind == "numeric" and not numeric:
        what = "true/false values" if pa.types.is_boolean(kind_of_data) else f"type {kind_of_data}"
        raise DataError(
            f"input column {name!r} of {source} holds {what}, the model expects numbers",
            f"make {name!r} numeric (check for text values in it)",
        )
    nested = pa.types.is_nested(kind_of_data) or pa.types.is_binary(kind_of_data)
    if kind == "categorical" and nested:
        raise DataError(
            f"input column {name!r} of {source} has type {kind_of_data}, the model expects categories",
            f"give {name!r} text, whole-number or true/false values",
        )
