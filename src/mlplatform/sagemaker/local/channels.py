"""S3 as a SageMaker job sees it: channels downloaded into `/opt/ml`, outputs uploaded after the
job; S3 failures become the step failures SageMaker would report (retried by Step.* policies)."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlplatform.clients import Clients, aws_error, aws_error_types
from mlplatform.sagemaker.local.records import StepFailure, client_error

# S3 error codes SageMaker would see as its own service trouble.
_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}


class S3Channels:
    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def call(self, what: str, call: Callable[[], Any]) -> Any:
        """An S3 call; failures become StepFailures of the kind SageMaker would report."""
        try:
            return call()
        except aws_error_types() as exc:
            failure = aws_error(exc)
            assert failure is not None
            response = getattr(exc, "response", {})
            status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if not failure.answered:
                raise StepFailure("Step.SERVICE_FAULT", f"InternalServerError: {what}: {failure.code}") from None
            if failure.code in _THROTTLING:
                raise StepFailure("Step.THROTTLING", f"ThrottlingException: {what}: {failure.code}") from None
            if status >= 500:
                raise StepFailure("Step.SERVICE_FAULT", f"InternalServerError: {what}: {failure.code}") from None
            raise client_error(f"{what}: {failure.code}") from None

    def objects(self, source: dict[str, Any]) -> list[str]:
        """Keys under an S3Prefix in key order; an empty prefix fails as SageMaker fails it."""
        uri = source["S3Uri"]
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise client_error(f"run-local reads S3Prefix inputs only ({uri})")
        bucket, prefix = split_uri(uri)
        paginator = self.clients.boto3("s3").get_paginator("list_objects_v2")

        def list_keys() -> list[str]:
            pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/"))

        keys = self.call(f"listing {uri}", list_keys)
        if not keys:
            raise client_error(f"No S3 objects found under S3 URL {uri}")
        return keys

    def download(self, uri: str, keys: list[str], folder: Path) -> None:
        bucket, prefix = split_uri(uri)
        folder.mkdir(parents=True, exist_ok=True)
        s3 = self.clients.boto3("s3")
        for key in keys:
            target = folder / relative_key(key, prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.call(f"downloading s3://{bucket}/{key}", lambda k=key, t=target: s3.download_file(bucket, k, str(t)))

    def upload_folder(self, folder: Path, uri: str) -> None:
        bucket, prefix = split_uri(uri.rstrip("/") + "/")
        s3 = self.clients.boto3("s3")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(folder).as_posix()
            self.call(f"uploading s3://{bucket}/{key}", lambda p=path, k=key: s3.upload_file(str(p), bucket, k))

    def upload_tar(self, folder: Path, uri: str) -> None:
        archive = folder.parent / (folder.name + ".tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(folder.iterdir()):
                tar.add(path, arcname=path.name)
        bucket, key = split_uri(uri)
        s3 = self.clients.boto3("s3")
        self.call(f"uploading {uri}", lambda: s3.upload_file(str(archive), bucket, key))


def relative_key(key: str, prefix: str) -> str:
    """Where an object lands under LocalPath: its key below the prefix (a prefix that ends in the
    middle of a name keeps the object's own name)."""
    rest = key[len(prefix) :]
    if prefix and not prefix.endswith("/") and not rest.startswith("/"):
        rest = key[prefix.rfind("/") + 1 :]
    return rest.lstrip("/") or Path(key).name


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise client_error(f"{uri} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
