"""How pipelines report progress without knowing about terminals (the CLI renders with rich)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Protocol

log = logging.getLogger("mlplatform.pipeline")


class StepReporter(Protocol):
    def step(self, description: str) -> contextlib.AbstractContextManager[None]: ...


class LogReporter:
    """Default reporter: one log line per finished step with its duration."""

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        log.info("%s done in %.2fs", description, time.perf_counter() - started)
