"""Logging is configured here, at the entry point, and nowhere else: library code only gets
loggers. Text for people (rich, to stderr), or JSON lines for log collectors."""

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


def configure_logging(verbose: bool, log_format: LogFormat = "text") -> None:
    # No network calls home from MLflow on a machine that may have no internet.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    handler: logging.Handler
    if log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
    else:
        from rich.logging import RichHandler

        from mlplatform.cli.render import stderr

        handler = RichHandler(console=stderr(), show_path=verbose, rich_tracebacks=verbose, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("mlplatform").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    # uv-made environments have no pip; MLflow warns about that on every log_model.
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    if not verbose:
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="mlflow")
