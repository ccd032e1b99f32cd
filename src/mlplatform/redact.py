"""Credentials never leave the process: one helper that every printer and writer uses.

A password in a URI (`https://user:pass@host`, `sqlite` is never affected) and the values of the
variables that carry secrets are replaced by `***` wherever text leaves mlplatform: terminal
output, logs, error lines and tracebacks, the run history database and the `_SUCCESS` manifest.
"""

from __future__ import annotations

import logging
import os
import re

# Variables whose values are secrets wherever they appear.
SECRET_VARIABLES = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "KAFKA_SASL_PASSWORD",
    "MLPLATFORM_INFERENCE__KAFKA__SASL_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*):(?P<secret>[^/@\s]+)@")


def redact_uri(uri: str) -> str:
    """`https://user:pass@host/x` -> `https://user:***@host/x`; anything else unchanged."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", uri)


def redact(text: str) -> str:
    """Credentials in every URI of `text`, and the values of secret variables, masked."""
    text = redact_uri(text)
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


class RedactingFilter(logging.Filter):
    """Masks credentials in every record a handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def redact_logs(*loggers: logging.Logger) -> None:
    """Put the filter on every handler of these loggers (MLflow installs handlers of its own)."""
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
