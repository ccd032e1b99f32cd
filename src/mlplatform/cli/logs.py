"""Logging is configured here, at the entry point, and nowhere else: library code only gets
loggers. Text lines for people, or JSON lines for log collectors; both to stderr, one line per
record, times in UTC (ISO 8601), whatever the terminal's width or the machine's time zone."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from datetime import UTC, datetime
from typing import Literal

from mlplatform.redact import RedactingFilter

LogFormat = Literal["text", "json"]
NOISY = ("mlflow", "alembic", "botocore", "urllib3", "git")


class JsonLines(logging.Formatter):
    """One JSON object per record and per line: time, level, logger, then the event's fields
    (scheduler events) or the message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "event", None)
        if isinstance(fields, dict):
            entry |= fields
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextLines(logging.Formatter):
    """`2026-11-22T06:00:03.120Z WARNING message` (the logger's name too with --verbose); a
    multi-line message or traceback stays one record's lines, never wrapped."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        origin = f" {record.name}:" if self.verbose else ""
        text = f"{stamp} {record.levelname}{origin} {record.getMessage()}"
        if record.exc_info and self.verbose:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(verbose: bool, log_format: LogFormat = "text") -> None:
    # No network calls home from MLflow on a machine that may have no internet.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # our summary names the run
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else TextLines(verbose))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("mlplatform").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    # uv-made environments have no pip; MLflow warns about that on every log_model.
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    # the sagemaker-mlflow plugin (AWS extra) fails to add its headers to non-ARN tracking URIs,
    # harmlessly, and MLflow warns on every request
    logging.getLogger("mlflow.tracking.request_header.registry").setLevel(logging.ERROR)
    if not verbose:
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
