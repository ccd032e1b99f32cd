"""Ground-truth labels in the data root, stored like predictions: per model and date under
`<data-root>/<project>/labels/model=M/date=D/`, one Parquet part under `run=<ingest id>/`,
switched in by the same one write of `_SUCCESS` (`sinks.files.DatePartitionWriter`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlplatform.clients import Clients
from mlplatform.layout import LABELS, date_folder, model_folder
from mlplatform.sinks.committed import CommittedOutput
from mlplatform.sinks.files import DatePartitionWriter
from mlplatform.sinks.formats import document_fields, serialise
from mlplatform.sinks.store import ObjectStore

LABEL_SCHEMA = pa.schema(
    [("row_id", pa.string()), ("label", pa.string()), ("arrived_at", pa.string()), ("source", pa.string())]
)


class LabelStore:
    """The committed labels of one model, date by date."""

    def __init__(self, clients: Clients, data_root: str, project: str, model: str) -> None:
        self.clients = clients
        self.data_root = data_root
        self.project = project
        self.model = model

    def folder(self, date: str) -> str:
        return date_folder(self.data_root, self.project, self.model, date, kind=LABELS)

    def dates(self) -> list[str]:
        """Dates that have committed labels, oldest first."""
        store = ObjectStore(self.clients, model_folder(self.data_root, self.project, self.model, LABELS))
        return sorted(name[5:] for name in store.children() if name.startswith("date="))

    def committed(self, date: str) -> CommittedOutput | None:
        return CommittedOutput.load(self.clients, self.folder(date))

    def read(self, date: str) -> pd.DataFrame | None:
        """The date's labels (row_id, label, arrived_at, source), None when it has none."""
        output = self.committed(date)
        if output is None:
            return None
        batches = list(output.batches(batch_rows=1_000_000))
        table = pa.Table.from_batches(batches) if batches else LABEL_SCHEMA.empty_table()
        return table.to_pandas()

    def commit(self, date: str, table: pd.DataFrame, ingest_id: str, numeric: bool) -> str:
        """Replace the date's labels by `table` in one commit; returns the date folder."""
        labels = pa.array(table["label"].astype(float if numeric else str), pa.float64() if numeric else pa.string())
        arrow = pa.table(
            {
                "row_id": pa.array(table["row_id"].astype(str), pa.string()),
                "label": labels,
                "arrived_at": pa.array(table["arrived_at"].astype(str), pa.string()),
                "source": pa.array(table["source"].astype(str), pa.string()),
            }
        )
        writer = DatePartitionWriter(self.clients, self.folder(date), "parquet", ingest_id, trusted=self.data_root)
        try:
            writer.write_part(serialise(arrow, "parquet"), arrow.num_rows)
            manifest = {
                "kind": "labels",
                "model": {"name": self.model},
                "run_date": date,
                "rows": arrow.num_rows,
                "inference_run_id": ingest_id,
                "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            return writer.commit(manifest)
        except BaseException:
            writer.abort()
            raise


def read_parquet_columns(output: CommittedOutput, columns: list[str]) -> pa.Table:
    """Some columns of a committed date's parts (Parquet reads only those)."""
    fmt = output.manifest.get("format", "parquet")
    if fmt == "jsonl":  # top-level fields; the row id (a JSON number or text) from the prediction id
        types = {"predicted_class": pa.string(), "predicted_value": pa.float64()}
        schema = pa.schema([("prediction_id", pa.string())] + [(c, types[c]) for c in columns if c in types])
        prefix = len(output.stamp.key_prefix)
        tables = []
        for documents in output.batches(batch_rows=1_000_000):
            table = document_fields(documents, schema)
            row_ids = pc.utf8_slice_codeunits(table.column("prediction_id"), prefix)
            tables.append(
                table.append_column("row_id", row_ids).select([c for c in columns if c in types or c == "row_id"])
            )
        return pa.concat_tables(tables) if tables else pa.table({c: pa.array([], pa.string()) for c in columns})
    if fmt == "csv":
        table = pa.Table.from_batches(list(output.batches(batch_rows=1_000_000)))
        return table.select([c for c in columns if c in table.column_names])
    tables = []
    for part in output.manifest.get("parts", ()):
        filesystem, path = output.clients.filesystem_for(f"{output.uri}/{part['path']}")
        with filesystem.open_input_file(path) as source:
            present = [c for c in columns if c in pq.ParquetFile(source).schema_arrow.names]
            tables.append(pq.read_table(source, columns=present))
    return pa.concat_tables(tables) if tables else pa.table({c: pa.array([], pa.string()) for c in columns})
