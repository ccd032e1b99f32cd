"""Per-date prediction output, written atomically, local or on S3.

Parts are written to a staging folder first; nothing under `date=YYYY-MM-DD/` changes until the
whole run succeeded. Commit then swaps the staged folder in (local: two renames) or copies the
staged objects over the old ones and writes `_SUCCESS` last (S3: server-side copies). A date
with `_SUCCESS` therefore holds exactly one complete run; a failed run leaves the previous
output untouched and only a staging folder behind, which the next run of the date removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pyarrow import fs as pafs

from mlplatform.clients import Clients
from mlplatform.errors import PipelineError
from mlplatform.scoring.messages import RunStamp
from mlplatform.sinks.base import PredictionBatch, Sink, SinkResult

log = logging.getLogger(__name__)
SUCCESS = "_SUCCESS"
QUARANTINE_DIR = "_quarantine"
Format = Literal["parquet", "csv", "jsonl"]


@dataclass(frozen=True)
class PartInfo:
    path: str  # relative to the date folder
    rows: int
    bytes: int
    sha256: str


def output_prefix(data_root: str, project: str, model: str) -> str:
    """Outputs are keyed by model, so two models scored for one date never replace each other."""
    return f"{data_root.rstrip('/')}/{project}/inference-output/model={model}"


def date_uri(data_root: str, project: str, model: str, run_date: str) -> str:
    return f"{output_prefix(data_root, project, model)}/date={run_date}"


def serialise(table: pa.Table, fmt: Format) -> bytes:
    """Bytes of one part in `fmt`. JSONL here is one JSON object per table row (quarantine);
    prediction parts in JSONL are the prediction documents themselves (`FileSink.write`)."""
    if fmt == "jsonl":
        frame = table.to_pandas()
        return frame.to_json(orient="records", lines=True, force_ascii=False).encode()
    sink = pa.BufferOutputStream()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, sink, compression="zstd")
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


class DatePartitionWriter:
    """Stage parts for one logical date, then commit them all at once (or abort)."""

    def __init__(
        self,
        clients: Clients,
        date_folder: str,
        fmt: Format,
        run_id: str,
        shard: str | None = None,
    ) -> None:
        # A shard (host=algo-2) is its own complete, atomic sub-partition of the date.
        self.clients = clients
        run_date = date_folder.rstrip("/").rsplit("date=", 1)[-1]
        self.uri = date_folder + (f"/{shard}" if shard else "")
        self.fs, self.final = clients.filesystem_for(self.uri)
        prefix = self.final.rsplit("/", 1)[0]
        prefix = prefix.rsplit("/", 1)[0] if shard else prefix
        self.staging_root = f"{prefix}/_staging/date={run_date}" + (f"-{shard.replace('=', '-')}" if shard else "")
        self.staging = f"{self.staging_root}/run={run_id}"
        self.fmt = fmt
        self.parts: list[PartInfo] = []
        self.quarantine: list[PartInfo] = []
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        self._guard("prepare the staging folder", self._prepare)

    def _prepare(self) -> None:
        info = self.fs.get_file_info(self.staging_root)
        if info.type != pafs.FileType.NotFound:
            self._delete_tree(self.staging_root)  # leftovers of an aborted or killed run
        if self.local:  # S3 has no folders; creating one would leave marker objects behind
            self.fs.create_dir(self.staging, recursive=True)

    def write_part(self, data: bytes, rows: int) -> PartInfo:
        part = self._write(f"part-{len(self.parts):05d}.{self.fmt}", data, rows)
        self.parts.append(part)
        return part

    def write_quarantine(self, data: bytes, rows: int) -> PartInfo:
        part = self._write(f"{QUARANTINE_DIR}/part-{len(self.quarantine):05d}.{self.fmt}", data, rows)
        self.quarantine.append(part)
        return part

    def _write(self, relative: str, data: bytes, rows: int) -> PartInfo:
        def write() -> None:
            if "/" in relative and self.local:
                self.fs.create_dir(f"{self.staging}/{relative.rsplit('/', 1)[0]}", recursive=True)
            with self.fs.open_output_stream(f"{self.staging}/{relative}") as out:
                out.write(data)

        self._guard(f"write {relative}", write)
        return PartInfo(relative, rows, len(data), hashlib.sha256(data).hexdigest())

    def commit(self, manifest: dict[str, Any]) -> str:
        """Publish the staged parts with a `_SUCCESS` manifest; returns the date folder URI."""
        manifest = manifest | {
            "parts": [asdict(p) for p in self.parts],
            "quarantine": [asdict(p) for p in self.quarantine],
            "format": self.fmt,
        }
        body = json.dumps(manifest, indent=2, sort_keys=True).encode()
        self._guard("commit the date folder", lambda: self._commit(body))
        return self.uri

    def _commit(self, manifest: bytes) -> None:
        with self.fs.open_output_stream(f"{self.staging}/{SUCCESS}") as out:
            out.write(manifest)
        parent = self.final.rsplit("/", 1)[0]
        exists = self.fs.get_file_info(self.final).type != pafs.FileType.NotFound
        if self.local:
            self.fs.create_dir(parent, recursive=True)
            replaced = f"{self.staging_root}/replaced"
            if exists:
                self.fs.move(self.final, replaced)
            self.fs.move(self.staging, self.final)
            self.fs.delete_dir(self.staging_root)
            self._remove_empty_staging()
            return
        # S3 has no rename: retire the old _SUCCESS first, so no reader sees a mix as complete.
        if exists:
            if self.fs.get_file_info(f"{self.final}/{SUCCESS}").type == pafs.FileType.File:
                self.fs.delete_file(f"{self.final}/{SUCCESS}")
            self._delete_tree(self.final)
        for part in [*self.parts, *self.quarantine]:
            self.fs.copy_file(f"{self.staging}/{part.path}", f"{self.final}/{part.path}")
        self.fs.copy_file(f"{self.staging}/{SUCCESS}", f"{self.final}/{SUCCESS}")
        self._delete_tree(self.staging_root)

    def abort(self) -> None:
        """Drop the staged parts; the date's previous output is untouched."""
        try:
            self._delete_tree(self.staging_root)
            self._remove_empty_staging()
        except Exception as exc:  # noqa: BLE001 - cleanup must never hide the original error
            log.warning("could not remove staging folder %s: %s", self.staging_root, exc)

    def _delete_tree(self, path: str) -> None:
        """Delete a folder and everything under it.

        On S3, pyarrow's delete_dir writes a marker object for the parent it empties; deleting
        the keys with boto3 leaves nothing behind.
        """
        if self.local:
            self.fs.delete_dir(path)
            return
        bucket, _, prefix = path.partition("/")
        client = self.clients.boto3("s3")
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})

    def _remove_empty_staging(self) -> None:
        """Local folders outlive their contents (S3 prefixes do not): drop an empty _staging/."""
        if self.local:
            parent = Path(self.staging_root).parent
            with contextlib.suppress(OSError):
                parent.rmdir()  # only succeeds when no other date is being staged

    def _guard(self, action: str, work: Any) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            work()
        except (OSError, BotoCoreError, ClientError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise PipelineError(
                f"cannot {action} under {self.uri}: {first}",
                "check that the data root is writable (and AWS credentials / AWS_ENDPOINT_URL for s3://)",
            ) from None


def read_manifest(clients: Clients, date_folder: str) -> dict[str, Any] | None:
    """The `_SUCCESS` manifest of a date folder, or None when the date is not complete."""
    filesystem, path = clients.filesystem_for(f"{date_folder}/{SUCCESS}")
    try:
        with filesystem.open_input_stream(path) as stream:
            return dict(json.loads(stream.read()))
    except (FileNotFoundError, OSError):
        return None


class FileSink(Sink):
    """Predictions as Parquet/CSV/JSONL parts under `<data-root>/<project>/inference-output/
    model=M/date=D/`, committed atomically with the `_SUCCESS` manifest; quarantined rows too."""

    name = "storage"
    writes_manifest = True

    def __init__(
        self, clients: Clients, data_root: str, project: str, model: str, fmt: Format, shard: str | None = None
    ) -> None:
        self.clients = clients
        self.data_root = data_root
        self.project = project
        self.model = model
        self.fmt = fmt
        self.shard = shard
        self.writer: DatePartitionWriter | None = None

    def check(self) -> str:
        import uuid

        target = output_prefix(self.data_root, self.project, self.model)
        probe = f"{target}/_check/{uuid.uuid4().hex}"
        filesystem, path = self.clients.filesystem_for(probe)
        try:
            if not probe.startswith("s3://"):
                filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
            with filesystem.open_output_stream(path) as out:
                out.write(b"ok")
            filesystem.delete_file(path)
        except OSError as exc:
            raise PipelineError(f"{target}: {exc}", "check that the data root is writable") from None
        return f"{target} is writable"

    def open(self, stamp: RunStamp) -> None:
        folder = date_uri(self.data_root, self.project, stamp.model_name or self.model, stamp.run_date)
        self.writer = DatePartitionWriter(self.clients, folder, self.fmt, stamp.inference_run_id, self.shard)

    def write(self, batch: PredictionBatch) -> None:
        writer = self._opened(self.writer)
        if batch.quarantine is not None:
            writer.write_quarantine(serialise(batch.quarantine, self.fmt), batch.quarantine.num_rows)
        if len(batch):
            if self.fmt == "jsonl":
                data = ("\n".join(batch.documents.to_pylist()) + "\n").encode()
            else:
                data = serialise(batch.table, self.fmt)
            writer.write_part(data, len(batch))

    def finish(self) -> SinkResult:
        uri = self._opened(self.writer).uri
        return SinkResult(self.name, {"uri": uri}, f"{uri} (_SUCCESS written)")

    def commit(self, manifest: dict[str, Any]) -> None:
        self._opened(self.writer).commit(manifest)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
