"""Read tabular data from a file, a folder or an S3 prefix with pyarrow.

Every read failure is turned into a DataError here, naming the file, so callers never see a
pyarrow or S3 exception. CSV columns are read as text and typed from all of their values
(`csv_types`), never from the first block pyarrow would guess from.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlplatform.clients import Clients
from mlplatform.data.columns import FeatureKind, category_strings
from mlplatform.data.csv_types import numbers, typed_column, typed_table
from mlplatform.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
BUILTIN_IRIS = "builtin:iris"
IRIS_TARGET = "species"


@dataclass(frozen=True)
class LoadedTable:
    """A table plus where it came from, for lineage in MLflow."""

    frame: pd.DataFrame
    source: str
    files: tuple[str, ...]


def file_format(path: str) -> str | None:
    lower = path.lower()
    return next((fmt for ext, fmt in FORMATS.items() if lower.endswith(ext)), None)


def _is_data_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return not name.startswith(("_", ".")) and file_format(name) is not None


def open_dataset(uri: str, clients: Clients) -> tuple[ds.Dataset, tuple[str, ...], str]:
    """A lazy pyarrow dataset over one file or every CSV/Parquet file under a folder/prefix,
    the files, and a fingerprint of them (path, size, mtime) from the same listing."""
    import pyarrow as pa
    import pyarrow.dataset as pads
    from pyarrow import fs as pafs

    filesystem, path = clients.filesystem_for(uri)
    hint = "check the path" + (" and AWS credentials / AWS_ENDPOINT_URL" if uri.startswith("s3://") else "")
    try:
        info = filesystem.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise DataError(f"data not found: {uri}", hint)
        if info.type == pafs.FileType.File:
            fmt = file_format(path)
            if fmt is None:
                raise DataError(f"unsupported file type: {uri}", "use a .csv or .parquet file")
            infos, files = [info], (path,)
        else:
            selector = pafs.FileSelector(path, recursive=True)
            infos = sorted(
                (i for i in filesystem.get_file_info(selector) if i.is_file and _is_data_file(i.path)),
                key=lambda i: i.path,
            )
            files = tuple(i.path for i in infos)
            if not files:
                raise DataError(f"no .csv or .parquet files under {uri}", "point at a file or a folder of data files")
            formats = {file_format(f) for f in files}
            if len(formats) > 1:
                raise DataError(f"{uri} mixes CSV and Parquet files", "keep one format per folder")
            fmt = formats.pop()
        hasher = hashlib.sha256()
        for item in infos:
            hasher.update(f"{item.path}\x1f{item.size}\x1f{item.mtime_ns}\n".encode())
        dataset = pads.dataset(list(files), filesystem=filesystem, format=fmt)
        dataset.schema.names  # noqa: B018 - column names decode here: fail now, with the file named
        if len(files) > 1:
            _check_same_columns(dataset, uri)
        return dataset, files, hasher.hexdigest()[:16]
    except DataError:
        raise
    except UnicodeDecodeError:
        raise DataError(
            f"the column names of {uri} are not UTF-8 text", "save the file as UTF-8 (or rename the columns)"
        ) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise _read_error(uri, exc, hint) from None


def _check_same_columns(dataset: ds.Dataset, uri: str) -> None:
    """Every file of a folder has the first file's columns: a file without one would otherwise
    be read with blanks in its place (and scored on them)."""
    expected: list[str] | None = None
    first = ""
    for fragment in dataset.get_fragments():
        names = list(fragment.physical_schema.names)
        if expected is None:
            expected, first = names, fragment.path
            continue
        if set(names) != set(expected):
            missing, extra = sorted(set(expected) - set(names)), sorted(set(names) - set(expected))
            difference = "; ".join(
                part for part in (f"lacks {missing}" if missing else "", f"adds {extra}" if extra else "") if part
            )
            raise DataError(
                f"{fragment.path} has other columns than {first} under {uri} ({difference})",
                "give every file of the folder the same columns (or move the odd one out)",
            )


def read_table(uri: str, clients: Clients) -> tuple[pa.Table, tuple[str, ...]]:
    """Read a whole file or folder into memory (training data; inference streams instead).
    CSV: every column typed from all of its values."""
    import pyarrow as pa

    dataset, files, _ = open_dataset(uri, clients)
    csv = file_format(files[0]) == "csv"
    try:
        if not csv:
            return dataset.to_table(), files
        return typed_table(as_text(dataset, dataset.schema.names).to_table()), files
    except (pa.ArrowInvalid, OSError) as exc:
        raise _read_error(uri, exc, "check that the file is valid CSV with a header row, or Parquet") from None


def as_text(dataset: ds.Dataset, columns: list[str]) -> ds.Dataset:
    """The same CSV files with `columns` read as text: a value never fails to convert, so a late
    first value or a late decimal cannot break the read; `csv_types` types them afterwards."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.dataset as pads

    options = pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.string()))
    csv = pads.CsvFileFormat(convert_options=options)
    return pads.dataset(dataset.files, filesystem=dataset.filesystem, format=csv)


def load_frame(uri: str | None, clients: Clients) -> LoadedTable:
    """The training table: built-in Iris when `uri` is None, else the file/folder at `uri`."""
    if uri is None or uri == BUILTIN_IRIS:
        return LoadedTable(iris_frame(), BUILTIN_IRIS, ())
    table, files = read_table(uri, clients)
    source = uri if "://" in uri else os.path.abspath(os.path.expanduser(uri))
    return LoadedTable(table.to_pandas(), source, files)


def iris_frame() -> pd.DataFrame:
    """Fisher's Iris, shipped inside scikit-learn (no download), with readable names."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.rename(
        columns={
            "sepal length (cm)": "sepal_length",
            "sepal width (cm)": "sepal_width",
            "petal length (cm)": "petal_length",
            "petal width (cm)": "petal_width",
        }
    )
    frame[IRIS_TARGET] = [str(bunch.target_names[i]) for i in frame.pop("target")]
    return frame


def _read_error(uri: str, exc: BaseException, hint: str) -> DataError:
    message = str(exc)
    duplicate = re.search(r"multiple columns named (.+)$", message, re.MULTILINE)
    if duplicate:
        name = duplicate.group(1).strip()
        return DataError(f"duplicate column name {name!r} in {uri}", "rename or drop one of the columns")
    if "Parquet" in message and ("magic bytes" in message or "footer" in message or "Could not open" in message):
        hint = "replace or remove the damaged file: it is not a readable Parquet file"
    return DataError(f"cannot read {uri}: {_first_line(exc)}", hint)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass(frozen=True)
class FeatureStream:
    """Input rows read in batches: (row_ids, model input frame) in the model's column order."""

    source: str
    files: tuple[str, ...]
    fingerprint: str
    total_rows: int | None
    batches: Callable[[], Iterator[tuple[np.ndarray, pd.DataFrame]]]
    id_column: str | None = None  # the input column the row ids come from (else positions)


def stream_features(
    uri: str,
    kinds: dict[str, FeatureKind],
    id_column: str | Callable[[], str | None] | None,
    batch_size: int,
    check_schema: Callable[[pa.Schema, str], None],
    clients: Clients,
    row_id_offset: int = 0,
    text: Collection[str] = (),
) -> FeatureStream:
    """Open `uri` lazily, check its columns with `check_schema`, and stream fixed-size batches.
    `id_column` may be a callable, read after the check (which may choose it from the schema);
    `text`: categorical columns that were text at training (kept as written in CSV)."""
    import pyarrow as pa

    dataset, files, fingerprint = open_dataset(uri, clients)
    check_schema(dataset.schema, uri)  # may settle the id column (callable), so read it after
    id_column = id_column() if callable(id_column) else id_column
    parquet = all(file_format(f) == "parquet" for f in files)
    try:
        total = dataset.count_rows() if parquet else None  # Parquet knows; CSV would need a full read
    except (pa.ArrowInvalid, OSError) as exc:
        raise _read_error(uri, exc, "replace or remove the damaged file") from None
    columns = [*kinds, *([id_column] if id_column and id_column not in kinds else [])]
    if not parquet:
        dataset = as_text(dataset, columns)

    def batches() -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
        position = row_id_offset
        try:
            for batch in _rebatch(dataset.to_batches(columns=columns, batch_size=batch_size), batch_size):
                size = batch.num_rows
                where = (uri, position - row_id_offset + 1) if not parquet else None
                features = model_input(batch, kinds, where, text)
                if id_column:
                    ids = batch.column(id_column)
                    row_ids = _row_ids(ids if parquet else typed_column(ids), id_column, uri)
                else:
                    row_ids = np.arange(position, position + size, dtype=np.int64)
                position += size
                yield row_ids, features
        except (pa.ArrowInvalid, OSError) as exc:
            raise _read_error(uri, exc, "check that every file has the same columns and numeric values") from None

    return FeatureStream(uri, files, fingerprint, total, batches, id_column)


def _rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """CSV scans yield ~1 MB blocks; predict_proba is far faster on large batches."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        pending.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending)
            yield from table.slice(0, size).combine_chunks().to_batches()
            rest = table.slice(size)
            pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            rows = rest.num_rows
    if rows:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def model_input(
    batch: pa.RecordBatch,
    kinds: dict[str, FeatureKind],
    text: tuple[str, int] | None = None,
    keep_text: Collection[str] = (),
) -> pd.DataFrame:
    """Raw Arrow columns as the model takes them: float64 numbers (NaN = missing), string
    categories (None = missing); the same values `columns.feature_frame` gives at training.
    `text` = (source, data row of the batch's first row) when the columns are CSV text: typed
    here as training typed the file, except `keep_text`, the categorical columns that were text
    at training: they stay text whatever this batch's values look like."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        column = batch.column(name)
        if kind == "numeric":
            if text is not None:
                column = numbers(column, name, *text)
            columns[name] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        else:
            values = typed_column(column) if text is not None and name not in keep_text else column
            columns[name] = pd.Series(category_strings(values).to_numpy(zero_copy_only=False), dtype=object)
    return pd.DataFrame(columns)


def _row_ids(column: pa.Array, name: str, uri: str) -> np.ndarray:
    """Whole numbers as int64, anything else as strings: ids of any type are carried through."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count:
        raise DataError(f"id column {name!r} of {uri} has missing values", "every row needs an id")
    if pa.types.is_integer(column.type):
        return pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
    return np.asarray(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
