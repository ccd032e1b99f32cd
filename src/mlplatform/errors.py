"""Our error types: a one-line headline saying what is wrong and a fix saying what to do.

Third-party failures are wrapped once, at the adapter that called the library, so the CLI has
exactly one place that prints errors and chooses the exit code.
"""

from __future__ import annotations

EXIT_PIPELINE_FAILURE = 1
EXIT_BAD_INPUT = 2


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


class PipelineError(MLPlatformError):
    """A pipeline step failed for a reason outside the user's input: exit code 1."""


class RegistryError(PipelineError):
    """The MLflow tracking server or model registry failed or is unreachable."""
