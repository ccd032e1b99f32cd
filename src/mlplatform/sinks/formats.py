"""The bytes of a part in each output format, and reading a committed part back in batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa

Format = Literal["parquet", "csv", "jsonl"]
UNIQUE_COLUMNS = ("prediction_id", "row_id")  # one distinct value per row, by construction


def serialise(table: pa.Table, fmt: Format) -> bytes:
    """Bytes of one part in `fmt`. JSONL here is one JSON object per table row (quarantine);
    prediction parts in JSONL are the prediction documents themselves (`jsonl_lines`)."""
    if fmt == "jsonl":
        frame = table.to_pandas()
        return frame.to_json(orient="records", lines=True, force_ascii=False).encode()
    sink = pa.BufferOutputStream()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        # ids are unique per row: a dictionary for them is built, then dropped as too large
        # (a quarter of the write time and a third of the size); every other column keeps one
        dictionary = [name for name in table.column_names if name not in UNIQUE_COLUMNS]
        pq.write_table(table, sink, compression="zstd", use_dictionary=dictionary)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def jsonl_lines(documents: pa.Array) -> bytes:
    """A JSONL part from prediction documents (already one JSON object each)."""
    return ("\n".join(documents.to_pylist()) + "\n").encode()


def read_part(source: Any, fmt: str, columns: dict[str, str], batch_rows: int) -> Iterator[Any]:
    """Record batches (Parquet/CSV) or arrays of JSON documents (JSONL) of one part."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(source).iter_batches(batch_size=batch_rows)
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        types = {name: pa.string() if "string" in kind else pa.type_for_alias(kind) for name, kind in columns.items()}
        options = pcsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        yield from pcsv.open_csv(source, convert_options=options)
    else:
        lines = source.read().decode().splitlines()
        for start in range(0, len(lines), batch_rows):
            yield pa.array(lines[start : start + batch_rows], pa.string())


def document_fields(documents: pa.Array, schema: pa.Schema) -> pa.Table:
    """Top-level fields of JSON documents, parsed by Arrow's JSON reader (other fields are
    skipped, not converted)."""
    import pyarrow.json as pajson

    body = pa.py_buffer(("\n".join(documents.to_pylist()) + "\n").encode())
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pajson.read_json(pa.BufferReader(body), parse_options=options)


def document_keys(documents: pa.Array) -> list[str]:
    """The `prediction_id` of each JSON document."""
    return document_fields(documents, pa.schema([("prediction_id", pa.string())])).column("prediction_id").to_pylist()
