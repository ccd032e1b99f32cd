"""The few object-store operations the commit protocol needs, on a local folder or an S3 prefix:
put, read, version, conditional put, list, delete a prefix.

Every path is relative to the store's root and stays inside it: a relative path with `..`, an
absolute path or an empty segment is refused (`OutsideStoreError`) before any I/O, whoever
wrote it (a manifest or `_pending` entry in a shared bucket is input, not truth).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyarrow import fs as pafs

from mlplatform.clients import CONFLICT_CODES, NOT_FOUND_CODES, Clients, aws_error, aws_error_types
from mlplatform.errors import PipelineError


class OutsideStoreError(PipelineError):
    """A path that would lead outside the store's root, or through a symbolic link in it."""


def check_relative(relative: str) -> str:
    """`relative` if it names something inside a folder: no `..`, no absolute path, no empty or
    backslashed segment; else OutsideStoreError."""
    if relative == "":
        return relative
    parts = relative.split("/")
    if relative.startswith("/") or "\\" in relative or any(part in ("", ".", "..") for part in parts):
        raise OutsideStoreError(f"{relative!r} is not a path inside the folder", "fix the file that named it")
    return relative


def check_no_links(path: str, trusted: str) -> None:
    """No folder or file between `trusted` (a data root, itself resolved by the settings) and
    `path` is a symbolic link: writing or deleting through one would reach outside the root."""
    root = os.path.abspath(trusted)
    current = os.path.abspath(path)
    while current.startswith(root + os.sep):
        if os.path.islink(current):
            raise OutsideStoreError(
                f"{current} is a symbolic link inside the data root {root}",
                "replace the link by a folder, or set the data root to the location it pointed to",
            )
        current = os.path.dirname(current)


class ObjectStore:
    """A local folder or an S3 prefix, addressed by paths relative to it."""

    def __init__(self, clients: Clients, uri: str, trusted: str | None = None) -> None:
        """`trusted`: the data root this store lies in; locally, no symbolic link below it is
        followed."""
        self.clients = clients
        self.uri = uri.rstrip("/")
        self.fs, self.root = clients.filesystem_for(self.uri)
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        self.trusted = clients.filesystem_for(trusted)[1] if trusted and self.local else None

    def path(self, relative: str) -> str:
        check_relative(relative)
        path = f"{self.root}/{relative}" if relative else self.root
        if self.trusted is not None:
            check_no_links(path, self.trusted)
        return path

    def sub(self, relative: str) -> ObjectStore:
        """The store of a folder inside this one (same trusted root)."""
        store = ObjectStore(self.clients, self.uri_of(relative))
        store.trusted = self.trusted
        return store

    def uri_of(self, relative: str) -> str:
        return f"{self.uri}/{check_relative(relative)}" if relative else self.uri

    def write(self, relative: str, data: bytes) -> None:
        target = self.path(relative)
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        with self.fs.open_output_stream(target) as out:
            out.write(data)

    def read(self, relative: str) -> bytes | None:
        """The object's bytes, None when it does not exist."""
        try:
            with self.fs.open_input_stream(self.path(relative)) as stream:
                return bytes(stream.read())
        except FileNotFoundError:
            return None
        except OSError as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                return None
            raise

    def version(self, relative: str) -> str | None:
        """A token that changes whenever the object is replaced (S3: its ETag), None if absent."""
        if self.local:
            data = self.read(relative)
            return None if data is None else hashlib.sha256(data).hexdigest()
        bucket, _, key = self.path(relative).partition("/")
        try:
            return str(self.clients.boto3("s3").head_object(Bucket=bucket, Key=key)["ETag"])
        except aws_error_types() as exc:
            if (failure := aws_error(exc)) is not None and failure.code in NOT_FOUND_CODES:
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
            try:
                temporary.write_bytes(data)
                os.replace(temporary, target)  # atomic on POSIX: readers see the old or the new file
            finally:
                temporary.unlink(missing_ok=True)  # a full disk must not leave a 0-byte temporary
            return True
        bucket, _, key = self.path(relative).partition("/")
        condition = {"IfMatch": expected} if expected else {"IfNoneMatch": "*"}
        try:
            self.clients.boto3("s3").put_object(Bucket=bucket, Key=key, Body=data, **condition)
        except aws_error_types() as exc:
            if (failure := aws_error(exc)) is not None and failure.code in CONFLICT_CODES:
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

    def guarded(self, action: str, work: Callable[[], Any]) -> Any:
        """`work()`, its storage failures as one PipelineError naming this store and `action`."""
        return guarded(self.uri, action, work)


def guarded(uri: str, action: str, work: Callable[[], Any]) -> Any:
    """`work()`, its storage failures (OS or AWS) as one PipelineError naming `uri`."""
    try:
        return work()
    except (OSError, *aws_error_types()) as exc:
        failure = aws_error(exc)
        first = failure.message if failure else (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PipelineError(
            f"cannot {action} under {uri}: {first}",
            "check that the data root is writable (and AWS credentials / AWS_ENDPOINT_URL for s3://)",
        ) from None
