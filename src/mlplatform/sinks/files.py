"""Per-date prediction output, committed by one write of a manifest, local or on S3.

One date (or one shard of it, `date=D/host=algo-2/`) looks like this:

    _SUCCESS                      the manifest: the committed run, its parts, every sink's section
    run=<run id>/part-00000.parquet ...
    run=<run id>/_quarantine/part-00000.parquet
    _PUBLISHED                    written once Kafka acknowledged every message of that run

A run writes its parts under its own `run=<id>/` prefix, which no reader looks at; the commit
is one write of `_SUCCESS` (S3: a conditional PUT against the manifest the run saw when it
started; local: a rename), so a reader sees the previous run or the new one, never a mix, and
the previous output stays readable until that moment. Readers follow the manifest
(`committed_parts`). After the switch the superseded run's parts are deleted. A run that dies
before its switch leaves its prefix and an entry in `<model>/_pending/`; the next run of the
model removes both, for every date not being scored at that moment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pyarrow import fs as pafs

from mlplatform.clients import Clients
from mlplatform.errors import PipelineError
from mlplatform.scoring.messages import RunStamp, prediction_documents
from mlplatform.sinks.base import PredictionBatch, Sink, SinkResult

log = logging.getLogger(__name__)
SUCCESS = "_SUCCESS"
PUBLISHED = "_PUBLISHED"
PENDING = "_pending"
LEGACY_STAGING = "_staging"  # where releases before run prefixes staged their parts
QUARANTINE_DIR = "_quarantine"
Format = Literal["parquet", "csv", "jsonl"]
UNIQUE_COLUMNS = ("prediction_id", "row_id")  # one distinct value per row, by construction


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

        # ids are unique per row: a dictionary for them is built, then dropped as too large
        # (~25% of the write time and a third of the size); every other column keeps one
        dictionary = [name for name in table.column_names if name not in UNIQUE_COLUMNS]
        pq.write_table(table, sink, compression="zstd", use_dictionary=dictionary)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


class _Store:
    """The few operations the commit protocol needs, on a local folder or an S3 prefix."""

    def __init__(self, clients: Clients, uri: str) -> None:
        self.clients = clients
        self.uri = uri.rstrip("/")
        self.fs, self.root = clients.filesystem_for(self.uri)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def write(self, relative: str, data: bytes) -> None:
        target = self.path(relative)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open_output_stream(target) as out:
            out.write(data)

    def read(self, relative: str) -> bytes | None:
        try:
            with self.fs.open_input_stream(self.path(relative)) as stream:
                return bytes(stream.read())
        except (FileNotFoundError, OSError):
            return None

    def version(self, relative: str) -> str | None:
        """A token that changes whenever the object is replaced (S3: its ETag), None if absent."""
        if self.local:
            data = self.read(relative)
            return None if data is None else hashlib.sha256(data).hexdigest()
        from botocore.exceptions import ClientError

        bucket, _, key = self.path(relative).partition("/")
        try:
            return str(self.clients.boto3("s3").head_object(Bucket=bucket, Key=key)["ETag"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def replace(self, relative: str, data: bytes, expected: str | None) -> bool:
        """Write `relative` only if it is still at version `expected` (None: still absent).
        False when someone else replaced it meanwhile."""
        if self.local:
            if self.version(relative) != expected:
                return False
            target = Path(self.path(relative))
            temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            os.replace(temporary, target)  # atomic on POSIX: readers see the old or the new file
            return True
        from botocore.exceptions import ClientError

        bucket, _, key = self.path(relative).partition("/")
        condition = {"IfMatch": expected} if expected else {"IfNoneMatch": "*"}
        try:
            self.clients.boto3("s3").put_object(Bucket=bucket, Key=key, Body=data, **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def children(self, relative: str = "") -> list[str]:
        """Names directly under `relative` (files and folders)."""
        selector = pafs.FileSelector(self.path(relative).rstrip("/"), allow_not_found=True)
        return [info.base_name for info in self.fs.get_file_info(selector)]

    def delete(self, relative: str) -> None:
        """Delete a file or a folder and everything under it, if present.

        On S3, pyarrow's delete_dir writes a marker object for the parent it empties; deleting
        the keys with boto3 leaves nothing behind."""
        path = self.path(relative).rstrip("/")
        if self.local:
            info = self.fs.get_file_info(path)
            if info.type == pafs.FileType.Directory:
                self.fs.delete_dir(path)
            elif info.type == pafs.FileType.File:
                self.fs.delete_file(path)
            return
        bucket, _, prefix = path.partition("/")
        client = self.clients.boto3("s3")
        keys = [{"Key": prefix}]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            keys += [{"Key": item["Key"]} for item in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})

    def remove_empty(self, relative: str) -> None:
        """Local folders outlive their contents (S3 prefixes do not)."""
        if self.local:
            with contextlib.suppress(OSError):  # not empty: another run is using it
                Path(self.path(relative)).rmdir()


def _guarded(uri: str, action: str, work: Callable[[], Any]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return work()
    except (OSError, BotoCoreError, ClientError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PipelineError(
            f"cannot {action} under {uri}: {first}",
            "check that the data root is writable (and AWS credentials / AWS_ENDPOINT_URL for s3://)",
        ) from None


class DatePartitionWriter:
    """Write one run's parts for one logical date (or shard), then switch the date to them."""

    def __init__(
        self,
        clients: Clients,
        date_folder: str,
        fmt: Format,
        run_id: str,
        shard: str | None = None,
    ) -> None:
        # A shard (host=algo-2) is its own complete, atomic sub-partition of the date.
        self.uri = date_folder.rstrip("/") + (f"/{shard}" if shard else "")
        self.run_date = date_folder.rstrip("/").rsplit("date=", 1)[-1]
        self.shard = shard
        self.run_id = run_id
        self.run_dir = f"run={run_id}"
        self.fmt = fmt
        self.parts: list[PartInfo] = []
        self.quarantine: list[PartInfo] = []
        self.store = _Store(clients, self.uri)
        self.model = _Store(clients, date_folder.rstrip("/").rsplit("/", 1)[0])
        self.pending = f"{PENDING}/{pending_name(self.run_date, shard, run_id)}"
        self.seen: str | None = None
        self._guard("prepare the run folder", self._prepare)

    def _prepare(self) -> None:
        # What the commit will replace: it only does if nobody else replaced it meanwhile.
        self.seen = self.store.version(SUCCESS)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        entry = {"date": self.run_date, "shard": self.shard, "run_id": self.run_id, "pid": os.getpid(),
                 "host": socket.gethostname(), "started_at": started}  # fmt: skip
        self.model.write(self.pending, json.dumps(entry).encode())

    def write_part(self, data: bytes, rows: int) -> PartInfo:
        part = self._write(f"{self.run_dir}/part-{len(self.parts):05d}.{self.fmt}", data, rows)
        self.parts.append(part)
        return part

    def write_quarantine(self, data: bytes, rows: int) -> PartInfo:
        relative = f"{self.run_dir}/{QUARANTINE_DIR}/part-{len(self.quarantine):05d}.{self.fmt}"
        part = self._write(relative, data, rows)
        self.quarantine.append(part)
        return part

    def _write(self, relative: str, data: bytes, rows: int) -> PartInfo:
        self._guard(f"write {relative}", lambda: self.store.write(relative, data))
        return PartInfo(relative, rows, len(data), hashlib.sha256(data).hexdigest())

    def commit(self, manifest: dict[str, Any]) -> str:
        """Switch the date to this run's parts; returns the date folder URI."""
        manifest = manifest | {
            "run": self.run_dir,
            "parts": [asdict(p) for p in self.parts],
            "quarantine": [asdict(p) for p in self.quarantine],
            "format": self.fmt,
        }
        body = json.dumps(manifest, indent=2, sort_keys=True).encode()
        if self.model.read(self.pending) is None:
            raise PipelineError(
                f"the parts of run {self.run_id} under {self.uri} were removed by another process while it ran",
                "score a model and date from one state directory at a time, then re-run",
            )
        previous = read_manifest_of(self.store)
        if not self._guard("commit the date folder", lambda: self.store.replace(SUCCESS, body, self.seen)):
            winner = (read_manifest_of(self.store) or {}).get("inference_run_id", "unknown")
            self.abort()
            raise PipelineError(
                f"{self.uri} was committed by another run ({winner}) while this one ran; nothing of this run was kept",
                "run one scoring per model and date at a time (share the state directory), then re-run if needed",
            )
        self._guard("remove superseded output", lambda: self._collect(previous))
        return self.uri

    def _collect(self, previous: dict[str, Any] | None) -> None:
        """After the switch: the superseded run's parts, leftovers of runs of this date that
        died before their switch, and a `_PUBLISHED` that belonged to the superseded run."""
        self.model.delete(self.pending)
        self.model.remove_empty(PENDING)
        for name in self.store.children():
            if name.startswith("run=") and name != self.run_dir:
                self.store.delete(name)
        if previous is not None:  # output written before run folders existed: the parts it lists
            for part in [*previous.get("parts", ()), *previous.get("quarantine", ())]:
                if not str(part["path"]).startswith("run="):
                    self.store.delete(str(part["path"]))
            self.store.remove_empty(QUARANTINE_DIR)
        self.store.delete(PUBLISHED)

    def abort(self) -> None:
        """Drop this run's parts; the date's committed output is untouched."""
        try:
            self.store.delete(self.run_dir)
            self.model.delete(self.pending)
            self.model.remove_empty(PENDING)
            self.store.remove_empty("")
        except Exception as exc:  # noqa: BLE001 - cleanup must never hide the original error
            log.warning("could not remove %s/%s: %s", self.uri, self.run_dir, exc)

    def _guard(self, action: str, work: Callable[[], Any]) -> Any:
        return _guarded(self.uri, action, work)


def pending_name(run_date: str, shard: str | None, run_id: str) -> str:
    return f"date={run_date}" + (f"~{shard}" if shard else "") + f"~run={run_id}.json"


def sweep_abandoned(clients: Clients, model_folder: str, idle: Callable[[dict[str, Any]], bool]) -> list[str]:
    """Remove the parts of runs that died before their switch, for every date of a model.

    `idle(entry)` says whether the run of a `_pending` entry (date, shard, run_id, host, pid,
    started_at) is over; a live run's entry is left alone. Returns what was removed."""
    model = _Store(clients, model_folder)
    removed = []
    for name in model.children(PENDING):
        entry = json.loads(model.read(f"{PENDING}/{name}") or b"{}")
        date, shard, run_id = entry.get("date"), entry.get("shard"), entry.get("run_id")
        if not date or not run_id or not idle(entry):
            continue
        folder = _Store(clients, f"{model_folder}/date={date}" + (f"/{shard}" if shard else ""))
        committed = (read_manifest_of(folder) or {}).get("run")
        if committed != f"run={run_id}":  # a run that switched, then died: its parts are live
            folder.delete(f"run={run_id}")
            folder.remove_empty("")
            removed.append(f"{folder.uri}/run={run_id}")
        model.delete(f"{PENDING}/{name}")
    model.remove_empty(PENDING)
    for name in model.children(LEGACY_STAGING):  # `_staging/date=D[-host-...]` of older releases
        if name.startswith("date=") and idle({"date": name[5:15], "shard": None}):
            model.delete(f"{LEGACY_STAGING}/{name}")
            removed.append(f"{model.uri}/{LEGACY_STAGING}/{name}")
    model.remove_empty(LEGACY_STAGING)
    return removed


def read_manifest_of(store: _Store) -> dict[str, Any] | None:
    data = store.read(SUCCESS)
    return None if data is None else dict(json.loads(data))


def read_manifest(clients: Clients, date_folder: str) -> dict[str, Any] | None:
    """The `_SUCCESS` manifest of a date folder, or None when the date is not complete."""
    return read_manifest_of(_Store(clients, date_folder))


def committed_parts(clients: Clients, date_folder: str, quarantine: bool = False) -> list[str]:
    """The URIs of the parts the manifest lists: what a reader of the date should read (a folder
    may also hold a run being written or one being removed)."""
    manifest = read_manifest(clients, date_folder) or {}
    parts = manifest.get("quarantine" if quarantine else "parts", ())
    return [f"{date_folder.rstrip('/')}/{part['path']}" for part in parts]


def read_published(clients: Clients, date_folder: str) -> dict[str, Any] | None:
    """`_PUBLISHED` of a date folder: which run was published where, or None."""
    data = _Store(clients, date_folder).read(PUBLISHED)
    return None if data is None else dict(json.loads(data))


def write_published(clients: Clients, date_folder: str, record: dict[str, Any]) -> None:
    store = _Store(clients, date_folder)
    _guarded(store.uri, f"write {PUBLISHED}", lambda: store.write(PUBLISHED, json.dumps(record, indent=2).encode()))


@dataclass(frozen=True)
class CommittedOutput:
    """A committed date (or shard) as a publisher reads it back: the manifest and its parts."""

    clients: Clients
    uri: str
    manifest: dict[str, Any]

    @classmethod
    def load(cls, clients: Clients, date_folder: str) -> CommittedOutput | None:
        manifest = read_manifest(clients, date_folder)
        return None if manifest is None else cls(clients, date_folder.rstrip("/"), manifest)

    @property
    def rows(self) -> int:
        return int(self.manifest.get("rows", 0))

    @property
    def run_date(self) -> str:
        return str(self.manifest["run_date"])

    @property
    def run_id(self) -> str:
        return str(self.manifest["inference_run_id"])

    @property
    def stamp(self) -> RunStamp:
        model = self.manifest.get("model", {})
        return RunStamp(self.run_date, self.run_id, str(model.get("name") or ""), str(model.get("version") or ""),
                        str(model.get("uri") or ""), str(self.manifest.get("scored_at", "")))  # fmt: skip

    @property
    def part_count(self) -> int:
        return len(self.manifest.get("parts", ()))

    def messages(
        self, batch_rows: int = 20_000, parts: Iterable[int] | None = None
    ) -> Iterator[tuple[list[str], list[str]]]:
        """(keys, values) per batch, read back from the committed parts (all, or the `parts`-th
        ones): the Kafka messages. Small batches reuse memory just freed instead of fresh pages
        (measured in docs/decisions.md: less CPU, a third less peak memory than 100,000)."""
        fmt = self.manifest.get("format", "parquet")
        columns = self.manifest.get("columns", {})
        features = list(self.manifest.get("features", ()))
        classes = list(self.manifest.get("classes", ()))
        filesystem, _ = self.clients.filesystem_for(self.uri)
        listed = self.manifest.get("parts", ())
        for part in listed if parts is None else [listed[index] for index in parts]:
            _, path = self.clients.filesystem_for(f"{self.uri}/{part['path']}")
            with filesystem.open_input_file(path) as source:
                for batch in _read_part(source, fmt, columns, batch_rows):
                    if fmt == "jsonl":
                        yield _keys_of_documents(batch), batch.to_pylist()
                    else:
                        documents = prediction_documents(self.stamp, batch, features, classes)
                        yield batch.column("prediction_id").to_pylist(), documents.to_pylist()


def _read_part(source: Any, fmt: str, columns: dict[str, str], batch_rows: int) -> Iterator[Any]:
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


def _keys_of_documents(documents: pa.Array) -> list[str]:
    """The prediction ids of JSONL documents (their second field), without parsing each line."""
    import pyarrow.compute as pc

    found = pc.extract_regex(documents, r'^\{"schema_version":\d+,"prediction_id":"(?P<id>(?:[^"\\]|\\.)*)"')
    keys = found.field("id").to_pylist()
    return [json.loads(f'"{key}"') if "\\" in key else key for key in keys]


class FileSink(Sink):
    """Predictions as Parquet/CSV/JSONL parts under `<data-root>/<project>/inference-output/
    model=M/date=D/run=ID/`, switched in by the `_SUCCESS` manifest; quarantined rows too."""

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
        self.columns: dict[str, str] = {}

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
            if not self.columns:  # types to read CSV parts back with (a publish reads them)
                self.columns = {field.name: str(field.type) for field in batch.table.schema}
            writer.write_part(data, len(batch))

    def finish(self) -> SinkResult:
        uri = self._opened(self.writer).uri
        return SinkResult(self.name, {"uri": uri}, f"{uri} (_SUCCESS written)")

    def commit(self, manifest: dict[str, Any]) -> None:
        self._opened(self.writer).commit(manifest | {"columns": self.columns})

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    def sweep(self, idle: Callable[[dict[str, Any]], bool]) -> list[str]:
        prefix = output_prefix(self.data_root, self.project, self.model)
        return _guarded(prefix, "remove abandoned runs", lambda: sweep_abandoned(self.clients, prefix, idle))
