"""The one place that builds clients for remote services (S3 today; Kafka and MLflow adapters
take their configuration from here too), so tests can point everything at local servers with
the standard environment variables: AWS_ENDPOINT_URL(_S3), AWS_REGION, AWS_ACCESS_KEY_ID, ...
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem


def s3_endpoint_url() -> str | None:
    """The S3 endpoint override, as boto3 reads it (service-specific variable first)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def aws_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def boto3_client(service: str, **kwargs: Any) -> Any:
    """A boto3 client with adaptive retries; endpoint and credentials from the environment."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=10, read_timeout=60)
    return boto3.client(service, region_name=aws_region(), config=config, **kwargs)


@lru_cache(maxsize=4)
def _s3_filesystem(endpoint: str | None, region: str) -> FileSystem:
    from pyarrow import fs

    options: dict[str, Any] = {"region": region}
    if endpoint:
        options["endpoint_override"] = endpoint
        options["scheme"] = "https" if endpoint.startswith("https") else "http"
        options["allow_bucket_creation"] = False
    return fs.S3FileSystem(**options)


def s3_filesystem() -> FileSystem:
    """pyarrow's S3 filesystem (credentials from the standard AWS chain), cached per endpoint."""
    return _s3_filesystem(s3_endpoint_url(), aws_region())


def filesystem_for(uri: str) -> tuple[FileSystem, str]:
    """(filesystem, path inside it) for a local path or an s3:// URI."""
    from pyarrow import fs

    if uri.startswith("s3://"):
        return s3_filesystem(), uri.removeprefix("s3://")
    if "://" in uri and not uri.startswith("file://"):
        scheme = uri.split("://", 1)[0]
        from mlplatform.errors import ConfigError

        raise ConfigError(f"unsupported storage scheme {scheme!r} in {uri}", "use a local path or s3://bucket/key")
    path = uri.removeprefix("file://")
    return fs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))
