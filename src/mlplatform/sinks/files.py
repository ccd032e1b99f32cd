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
(`sinks.committed`). After the switch the superseded run's parts are deleted. A run that dies
before its switch leaves its prefix and an entry in `<model>/_pending/`; the next run of the
model removes both, for every date not being scored at that moment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from mlplatform.clients import Clients
from mlplatform.errors import CorruptControlFileError, PipelineError
from mlplatform.layout import date_folder, model_folder, pending_entry, safe_segment
from mlplatform.scoring.messages import RunStamp
from mlplatform.sinks.base import PredictionBatch, Sink, SinkResult
from mlplatform.sinks.committed import PUBLISHED, SUCCESS, read_manifest_of
from mlplatform.sinks.control import parse_manifest, parse_pending, parse_published
from mlplatform.sinks.formats import Format, jsonl_lines, serialise
from mlplatform.sinks.store import ObjectStore, guarded

log = logging.getLogger(__name__)
PENDING = "_pending"
QUARANTINE_DIR = "_quarantine"


@dataclass(frozen=True)
class PartInfo:
    path: str  # relative to the date folder
    rows: int
    bytes: int
    sha256: str


class DatePartitionWriter:
    """Write one run's parts for one logical date (or shard), then switch the date to them."""

    def __init__(
        self,
        clients: Clients,
        folder: str,
        fmt: Format,
        run_id: str,
        shard: str | None = None,
        trusted: str | None = None,
    ) -> None:
        """`trusted`: the data root; locally no symbolic link below it is followed."""
        if not safe_segment(run_id):
            raise PipelineError(f"run id {run_id!r} cannot name a folder", "this is a bug: report it")
        self.uri = folder.rstrip("/") + (f"/{shard}" if shard else "")
        self.run_date = folder.rstrip("/").rsplit("date=", 1)[-1]
        self.shard = shard
        self.run_id = run_id
        self.run_dir = f"run={run_id}"
        self.fmt = fmt
        self.parts: list[PartInfo] = []
        self.quarantine: list[PartInfo] = []
        self.store = ObjectStore(clients, self.uri, trusted)
        self.model = ObjectStore(clients, folder.rstrip("/").rsplit("/", 1)[0], trusted)
        self.pending = f"{PENDING}/{pending_entry(self.run_date, shard, run_id)}"
        self.seen: str | None = None
        self.store.guarded("prepare the run folder", self._prepare)

    def _prepare(self) -> None:
        # What the commit will replace: it only does if nobody else replaced it meanwhile.
        self.seen = self.store.version(SUCCESS)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        entry = {
            "date": self.run_date,
            "shard": self.shard,
            "run_id": self.run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": started,
        }
        try:
            self.model.write(self.pending, json.dumps(entry).encode())
        except BaseException:
            self.model.delete(self.pending)  # a full disk must not leave an empty entry behind
            raise

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
        self.store.guarded(f"write {relative}", lambda: self.store.write(relative, data))
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
        if not self.store.guarded("commit the date folder", lambda: self.store.replace(SUCCESS, body, self.seen)):
            winner = _committed_run(self.store) or "unknown"
            self.abort()
            raise PipelineError(
                f"{self.uri} was committed by another run ({winner}) while this one ran; nothing of this run was kept",
                "run one scoring per model and date at a time (share the state directory), then re-run if needed",
            )
        self.store.guarded("remove superseded output", self._collect)
        return self.uri

    def _collect(self) -> None:
        """After the switch: the superseded run's parts, leftovers of runs of this date that
        died before their switch, and a `_PUBLISHED` that belonged to the superseded run."""
        self.model.delete(self.pending)
        self.model.remove_empty(PENDING)
        for name in self.store.children():
            if name.startswith("run=") and name != self.run_dir:
                self.store.delete(name)
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


def sweep_abandoned(
    clients: Clients, folder: str, idle: Callable[[dict[str, Any]], bool], trusted: str | None = None
) -> list[str]:
    """Remove the parts of runs that died before their switch, for every date of a model, and
    the superseded run of a date whose run died right after its switch.

    `idle(entry)` says whether the run of a `_pending` entry (date, shard, run_id, host, pid,
    started_at) is over; a live run's entry is left alone. An entry or manifest that cannot be
    trusted (`sinks.control`) is left as it is, with a warning: nothing is deleted on its word.
    Returns what was removed."""
    model = ObjectStore(clients, folder, trusted)
    removed = []
    for name in model.children(PENDING):
        try:
            entry = parse_pending(name, model.read(f"{PENDING}/{name}"), model.uri_of(f"{PENDING}/{name}"))
            if not idle(entry):
                continue
            date_store = model.sub(f"date={entry['date']}" + (f"/{entry['shard']}" if entry.get("shard") else ""))
            removed += _remove_leftovers(date_store, f"run={entry['run_id']}")
        except CorruptControlFileError as exc:
            log.warning("%s (left as it is)", exc.headline)
            continue
        model.delete(f"{PENDING}/{name}")
    model.remove_empty(PENDING)
    return removed


def corrupt_control_files(clients: Clients, folder: str, trusted: str | None = None) -> list[str]:
    """The control files of a model's output (every date's `_SUCCESS` and `_PUBLISHED`, and the
    `_pending` entries) that cannot be trusted, each as its one-line reason."""
    model = ObjectStore(clients, folder, trusted)
    found = []
    for name in model.children(PENDING):
        relative = f"{PENDING}/{name}"
        try:
            if parse_pending(name, model.read(relative), model.uri_of(relative)).get("broken"):
                found.append(f"{model.uri_of(relative)} is corrupt: not valid JSON (empty or truncated?)")
        except CorruptControlFileError as exc:
            found.append(exc.headline)
    for name in sorted(n for n in model.children() if n.startswith("date=")):
        date_store = model.sub(name)
        shards = [date_store.sub(n) for n in date_store.children() if n.startswith("host=")]
        for store in [date_store, *shards]:
            for control, parse in ((SUCCESS, parse_manifest), (PUBLISHED, parse_published)):
                data = store.read(control)
                try:
                    if data is not None:
                        parse(data, store.uri_of(control))
                except CorruptControlFileError as exc:
                    found.append(exc.headline)
    return found


def _remove_leftovers(date_store: ObjectStore, run: str) -> list[str]:
    """The parts of a dead run, unless it is the committed one; then the runs it superseded."""
    committed = (read_manifest_of(date_store) or {}).get("run")
    dead = [run] if committed != run else [n for n in date_store.children() if n.startswith("run=") and n != run]
    for name in dead:
        date_store.delete(name)
    date_store.remove_empty("")
    return [f"{date_store.uri}/{name}" for name in dead]


def _committed_run(store: ObjectStore) -> str | None:
    try:
        return (read_manifest_of(store) or {}).get("inference_run_id")
    except CorruptControlFileError:
        return None


class FileSink(Sink):
    """Predictions as Parquet/CSV/JSONL parts under `<data-root>/<project>/inference-output/
    model=M/date=D/run=ID/`, switched in by the `_SUCCESS` manifest; quarantined rows too."""

    name = "storage"
    writes_manifest = True

    def __init__(
        self,
        clients: Clients,
        data_root: str,
        project: str,
        model: str,
        fmt: Format,
        shard: str | None = None,
        variant: str | None = None,
    ) -> None:
        self.clients = clients
        self.variant = variant
        self.data_root = data_root
        self.project = project
        self.model = model
        self.fmt = fmt
        self.shard = shard
        self.writer: DatePartitionWriter | None = None
        self.columns: dict[str, str] = {}

    def check(self) -> str:
        target = model_folder(self.data_root, self.project, self.model, variant=self.variant)
        probe = ObjectStore(self.clients, target, trusted=self.data_root)
        relative = f"_check/{uuid.uuid4().hex}"
        try:
            probe.write(relative, b"ok")
            probe.delete(relative)
            probe.remove_empty("_check")
        except (OSError, ValueError) as exc:
            raise PipelineError(f"{target}: {exc}", "check that the data root is writable") from None
        return f"{target} is writable"

    def open(self, stamp: RunStamp) -> None:
        model = stamp.model_name or self.model
        folder = date_folder(self.data_root, self.project, model, stamp.run_date, variant=self.variant)
        self.writer = DatePartitionWriter(
            self.clients, folder, self.fmt, stamp.inference_run_id, self.shard, trusted=self.data_root
        )

    def write(self, batch: PredictionBatch) -> None:
        writer = self._opened(self.writer)
        if batch.quarantine is not None:
            writer.write_quarantine(serialise(batch.quarantine, self.fmt), batch.quarantine.num_rows)
        if len(batch):
            data = jsonl_lines(batch.documents) if self.fmt == "jsonl" else serialise(batch.table, self.fmt)
            if not self.columns:  # types to read CSV parts back with (a publish reads them)
                self.columns = {field.name: str(field.type) for field in batch.table.schema}
            writer.write_part(data, len(batch))

    def finish(self) -> SinkResult:
        writer = self._opened(self.writer)
        rows = sum(part.rows for part in writer.parts)
        where = f"{writer.uri} ({rows:,} rows in {_count(len(writer.parts), 'part')})"
        return SinkResult(self.name, {"uri": writer.uri}, where)

    def commit(self, manifest: dict[str, Any]) -> None:
        self._opened(self.writer).commit(manifest | {"columns": self.columns})

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    def sweep(self, idle: Callable[[dict[str, Any]], bool]) -> list[str]:
        prefix = model_folder(self.data_root, self.project, self.model, variant=self.variant)
        return guarded(
            prefix, "remove abandoned runs", lambda: sweep_abandoned(self.clients, prefix, idle, self.data_root)
        )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")
