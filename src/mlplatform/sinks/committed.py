"""A committed date as readers see it: the `_SUCCESS` manifest, the parts it lists, `_PUBLISHED`.

Readers follow the manifest, never the folder listing: a folder may also hold a run being
written or one being removed (`sinks.files` explains the commit protocol).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlplatform.clients import Clients
from mlplatform.errors import CorruptControlFileError, PipelineError
from mlplatform.scoring.messages import RunStamp, prediction_documents
from mlplatform.sinks.control import parse_manifest, parse_published
from mlplatform.sinks.formats import document_keys, read_part
from mlplatform.sinks.store import ObjectStore, guarded

log = logging.getLogger(__name__)
SUCCESS = "_SUCCESS"
PUBLISHED = "_PUBLISHED"


def read_manifest_of(store: ObjectStore) -> dict[str, Any] | None:
    """The checked manifest (`sinks.control`), None when the date is not committed."""
    data = store.read(SUCCESS)
    return None if data is None else parse_manifest(data, store.uri_of(SUCCESS))


def read_manifest(clients: Clients, date_folder: str) -> dict[str, Any] | None:
    """The `_SUCCESS` manifest of a date folder, or None when the date is not complete."""
    return read_manifest_of(ObjectStore(clients, date_folder))


def committed_parts(clients: Clients, date_folder: str, quarantine: bool = False) -> list[str]:
    """The URIs of the parts the manifest lists: what a reader of the date should read."""
    manifest = read_manifest(clients, date_folder) or {}
    parts = manifest.get("quarantine" if quarantine else "parts", ())
    return [f"{date_folder.rstrip('/')}/{part['path']}" for part in parts]


def read_published(clients: Clients, date_folder: str) -> dict[str, Any] | None:
    """`_PUBLISHED` of a date folder: which run was published where, or None (also when it is
    corrupt, with a warning: the date is then published again, which rewrites it)."""
    store = ObjectStore(clients, date_folder)
    data = store.read(PUBLISHED)
    try:
        return None if data is None else parse_published(data, store.uri_of(PUBLISHED))
    except CorruptControlFileError as exc:
        log.warning("%s: the date counts as not published", exc.headline)
        return None


def write_published(clients: Clients, date_folder: str, record: dict[str, Any]) -> None:
    store = ObjectStore(clients, date_folder)
    guarded(store.uri, f"write {PUBLISHED}", lambda: store.write(PUBLISHED, json.dumps(record, indent=2).encode()))


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
        return RunStamp(
            self.run_date,
            self.run_id,
            str(model.get("name") or ""),
            str(model.get("version") or ""),
            str(model.get("uri") or ""),
            str(self.manifest.get("scored_at", "")),
            self.manifest.get("variant"),
        )

    @property
    def part_count(self) -> int:
        return len(self.manifest.get("parts", ()))

    def verify(self) -> None:
        """Every part the manifest lists is there with the bytes it had at commit (SHA-256): a
        publish checks this before its first message, so a part that was changed, truncated or
        removed since the commit is never sent."""
        store = ObjectStore(self.clients, self.uri)
        for part in self.manifest.get("parts", ()):
            guarded(self.uri, f"read {part['path']}", lambda part=part: self._verify_part(store, part))

    def _verify_part(self, store: ObjectStore, part: dict[str, Any]) -> None:
        digest = hashlib.sha256()
        try:
            with store.fs.open_input_stream(store.path(part["path"])) as stream:
                while chunk := stream.read(1 << 22):
                    digest.update(chunk)
        except FileNotFoundError:
            raise PipelineError(
                f"part {part['path']} of {self.uri} is missing (the manifest lists it)",
                f"re-score the date: mlplatform score --date {self.run_date}",
            ) from None
        if digest.hexdigest() != part["sha256"]:
            raise PipelineError(
                f"part {part['path']} of {self.uri} does not match the SHA-256 recorded at its commit",
                f"someone changed it after the commit: re-score the date (mlplatform score --date {self.run_date}) "
                "and check who can write to the data root",
            )

    def batches(self, batch_rows: int = 20_000, parts: Iterable[int] | None = None) -> Iterator[Any]:
        """The committed parts (all, or the `parts`-th ones) read back `batch_rows` at a time.
        Small batches reuse memory just freed instead of fresh pages (less CPU and peak memory
        than whole parts: docs/decisions.md)."""
        fmt = self.manifest.get("format", "parquet")
        columns = self.manifest.get("columns", {})
        filesystem, _ = self.clients.filesystem_for(self.uri)
        listed = self.manifest.get("parts", ())
        for part in listed if parts is None else [listed[index] for index in parts]:
            _, path = self.clients.filesystem_for(f"{self.uri}/{part['path']}")
            with filesystem.open_input_file(path) as source:
                yield from read_part(source, fmt, columns, batch_rows)

    def messages(
        self, batch_rows: int = 20_000, parts: Iterable[int] | None = None
    ) -> Iterator[tuple[list[str], list[str]]]:
        """(keys, values) per batch: the prediction documents as messages, keyed by prediction id."""
        features = list(self.manifest.get("features", ()))
        classes = list(self.manifest.get("classes", ()))
        jsonl = self.manifest.get("format", "parquet") == "jsonl"
        for batch in self.batches(batch_rows, parts):
            if jsonl:
                yield document_keys(batch), batch.to_pylist()
            else:
                documents = prediction_documents(self.stamp, batch, features, classes)
                yield batch.column("prediction_id").to_pylist(), documents.to_pylist()
