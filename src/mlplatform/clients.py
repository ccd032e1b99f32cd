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

from mlplatform.errors import ConfigError, PipelineError

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem


def s3_endpoint_url() -> str | None:
    """The S3 endpoint override, as boto3 reads it (service-specific variable first)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


# S3 says "absent" in several ways, depending on the call (HEAD has no body, so no code name)
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "ResourceNotFoundException"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})


@dataclass(frozen=True)
class AwsFailure:
    """A botocore failure in our terms: the service's error code (or the botocore exception's
    name when no answer came back), its first line, and whether the service answered at all."""

    code: str
    message: str
    answered: bool


def aws_error(exc: BaseException) -> AwsFailure | None:
    """What a botocore failure means; None for anything else. The one place that knows how
    botocore reports errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        message = str(error.get("Message") or exc)
        return AwsFailure(str(error.get("Code") or "ClientError"), _first_line(message), answered=True)
    if isinstance(exc, BotoCoreError):
        return AwsFailure(type(exc).__name__, _first_line(str(exc)), answered=False)
    return None


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def aws_error_types() -> tuple[type[BaseException], ...]:
    """The botocore exception types, for `except` clauses that hand the error to `aws_error`."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


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

    def secret_string(self, arn: str, what: str, setting: str) -> str:
        """The SecretString of a Secrets Manager secret; the value never reaches a log (botocore
        logs response bodies at DEBUG: held at INFO while reading). `what` names the secret in
        errors, `setting` is the variable that holds the ARN."""
        import logging

        quiet = logging.getLogger("botocore")
        level = quiet.level
        quiet.setLevel(max(quiet.getEffectiveLevel(), logging.INFO))
        try:
            return self.boto3("secretsmanager").get_secret_value(SecretId=arn).get("SecretString") or ""
        except aws_error_types() as exc:
            failure = aws_error(exc) or AwsFailure("error", "", answered=False)
            if failure.code == "ResourceNotFoundException":
                raise ConfigError(f"the {what} secret {arn} does not exist", f"fix {setting}") from None
            if not failure.answered:
                raise PipelineError(f"cannot reach Secrets Manager for {arn} ({failure.code})", "retry") from None
            raise PipelineError(
                f"cannot read the {what} secret {arn} ({failure.code})",
                "grant secretsmanager:GetSecretValue on it to the job's role",
            ) from None
        finally:
            quiet.setLevel(level)

    def kafka_producer(self, config: dict[str, Any]) -> Any:
        from confluent_kafka import Producer

        return Producer(config)
