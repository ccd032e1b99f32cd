"""The one factory for clients of remote services: S3 (boto3 and pyarrow's filesystem) and the
Kafka producer. Flows build one `Clients` and hand it to the adapters that need it, so a test
points everything at local servers by building it differently (or by the standard variables:
AWS_ENDPOINT_URL(_S3), AWS_REGION, AWS_ACCESS_KEY_ID, ...). MLflow's client is built by the
MLflow adapter (`registry.mlflow.connection`), the only code that imports mlflow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mlplatform.errors import ConfigError

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem


def s3_endpoint_url() -> str | None:
    """The S3 endpoint override, as boto3 reads it (service-specific variable first)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def aws_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@lru_cache(maxsize=4)
def _s3_filesystem(endpoint: str | None, region: str) -> FileSystem:
    from pyarrow import fs

    options: dict[str, Any] = {"region": region}
    if endpoint:
        options["endpoint_override"] = endpoint
        options["scheme"] = "https" if endpoint.startswith("https") else "http"
        options["allow_bucket_creation"] = False
    return fs.S3FileSystem(**options)


@dataclass
class Clients:
    """Clients for one process, built on first use; endpoint and region fixed at creation."""

    s3_endpoint: str | None = field(default_factory=s3_endpoint_url)
    region: str = field(default_factory=aws_region)
    _boto3: dict[str, Any] = field(default_factory=dict, repr=False)

    def boto3(self, service: str) -> Any:
        """A boto3 client with adaptive retries; credentials from the standard AWS chain."""
        if service not in self._boto3:
            import boto3
            from botocore.config import Config

            config = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=10, read_timeout=60)
            endpoint = self.s3_endpoint if service == "s3" else None
            self._boto3[service] = boto3.client(service, region_name=self.region, config=config, endpoint_url=endpoint)
        return self._boto3[service]

    def s3_filesystem(self) -> FileSystem:
        """pyarrow's S3 filesystem (credentials from the standard AWS chain), cached per endpoint."""
        return _s3_filesystem(self.s3_endpoint, self.region)

    def filesystem_for(self, uri: str) -> tuple[FileSystem, str]:
        """(filesystem, path inside it) for a local path or an s3:// URI."""
        from pyarrow import fs

        if uri.startswith("s3://"):
            return self.s3_filesystem(), uri.removeprefix("s3://")
        if "://" in uri and not uri.startswith("file://"):
            scheme = uri.split("://", 1)[0]
            raise ConfigError(f"unsupported storage scheme {scheme!r} in {uri}", "use a local path or s3://bucket/key")
        path = uri.removeprefix("file://")
        return fs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))

    def kafka_producer(self, config: dict[str, Any]) -> Any:
        from confluent_kafka import Producer

        return Producer(config)
