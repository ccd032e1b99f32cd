"""Credentials never leave the process: the one redaction every printer and writer uses.

A password in a URI (`https://user:pass@host`, `sqlite` is never affected), a `password=...` in a
connection string and the values of the variables that carry secrets are replaced by `***`
wherever text leaves mlplatform: terminal output, logs, error lines and tracebacks, the run
history database and the `_SUCCESS` manifest. A mapping (a client's configuration) is redacted
by its keys as well.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

# Variables whose values are secrets wherever they appear.
SECRET_VARIABLES = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "KAFKA_SASL_PASSWORD",
    "MLPLATFORM_INFERENCE__KAFKA__SASL_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MLPLATFORM_INFERENCE__POSTGRES__DSN",
    "MLPLATFORM_EVENTS__WEBHOOK_SECRET",
    "MLPLATFORM_DASHBOARD_TOKEN",
)
SECRET_WORDS = ("password", "secret", "key", "token", "credentials", "dsn")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*):(?P<secret>[^/@\s]+)@")
# libpq's key=value form: password=secret or password='a secret'
_KEYWORD_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s]+)", re.IGNORECASE)


def redact_uri(uri: str) -> str:
    """`https://user:pass@host/x` -> `https://user:***@host/x`; anything else unchanged."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", uri)


def redact(text: str) -> str:
    """Credentials in every URI of `text`, and the values of secret variables, masked."""
    text = _KEYWORD_PASSWORD.sub(lambda m: f"{m['key']}***", redact_uri(text))
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration safe to log: values under secret-looking keys masked, text redacted."""

    def masked(key: str, value: Any) -> Any:
        if any(word in key.lower() for word in SECRET_WORDS):
            return "***"
        return redact(value) if isinstance(value, str) else value

    return {key: masked(key, value) for key, value in values.items()}


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
