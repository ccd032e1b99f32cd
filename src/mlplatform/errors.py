"""Our error types: a one-line headline saying what is wrong and a fix saying what to do.

Third-party failures are wrapped once, at the adapter that called the library, so the CLI has
exactly one place that prints errors and chooses the exit code.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

EXIT_PIPELINE_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 75  # EX_TEMPFAIL: the same work is already running; try again later (or --wait)


class MLPlatformError(Exception):
    """Base error: `headline` names the problem, `fix` tells the user what to do."""

    exit_code = EXIT_PIPELINE_FAILURE

    def __init__(self, headline: str, fix: str = "") -> None:
        super().__init__(headline)
        self.headline = headline
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.headline} - {self.fix}" if self.fix else self.headline


class BadInputError(MLPlatformError):
    """The user gave us something we cannot use: exit code 2, nothing written."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BadInputError):
    """A setting, flag, environment variable or config file value is invalid."""


class DataError(BadInputError):
    """Input data is missing, unreadable or fails validation."""


class ModelNotFoundError(BadInputError):
    """A model URI, alias or version does not resolve."""


class InputNotReadyError(MLPlatformError):
    """The input for the date is not there yet: exit code 75, like a busy run ("try later")."""

    exit_code = EXIT_BUSY


class PipelineError(MLPlatformError):
    """A pipeline step failed for a reason outside the user's input: exit code 1."""


class CorruptControlFileError(PipelineError):
    """A manifest, `_pending` entry or history row in the data root is unreadable, or points outside
    the folder it belongs to: nothing is read or deleted on its word."""


class RegistryError(PipelineError):
    """The MLflow tracking server or model registry failed or is unreachable."""


def describe_validation_error(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> tuple[str, str]:
    """First pydantic error as (headline, fix): names the field, the value and what is allowed.

    Used wherever user values meet a pydantic model (settings, a model family's
    hyperparameters). A union field reports one error per branch; its `description` says it
    better in one line.
    """
    errors = exc.errors()
    first = errors[0]
    path, info = _field_path(model, first["loc"])
    if first["type"] == "extra_forbidden":
        name = str(first["loc"][len(path)])
        owner = info.annotation if info is not None else model
        valid = sorted(getattr(owner, "model_fields", {}))
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown {prefix}{'.'.join([*path, name])!r}", f"{hint}valid names: {', '.join(valid)}"
    same_field = [e["msg"] for e in errors if _field_path(model, e["loc"])[0] == path]
    if len(same_field) > 1 and info is not None and info.description:
        allowed = info.description
    else:
        allowed = "; ".join(dict.fromkeys(same_field))
    return f"invalid {prefix}{'.'.join(path) or 'value'}={first.get('input')!r}", allowed


def _field_path(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """The part of a pydantic error location that names (nested) fields, and the last field."""
    path: list[str] = []
    info = None
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not isinstance(part, str) or not fields or part not in fields:
            break
        path.append(part)
        info = fields[part]
        current = info.annotation
    return path, info
