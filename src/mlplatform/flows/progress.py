"""How pipelines report progress without knowing about terminals (the CLI renders with rich)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Protocol

log = logging.getLogger("mlplatform.pipeline")


Advance = Callable[[int], None]


class StepReporter(Protocol):
    def step(self, description: str) -> contextlib.AbstractContextManager[None]: ...

    def bar(self, description: str, total: int | None) -> contextlib.AbstractContextManager[Advance]: ...


class LogReporter:
    """Default reporter: one log line per finished step with its duration."""

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        log.info("%s done in %.2fs", description, time.perf_counter() - started)

    @contextlib.contextmanager
    def bar(self, description: str, total: int | None) -> Iterator[Advance]:
        """Logs progress at most every 10 s (schedulers and containers have no terminal)."""
        started = last = time.perf_counter()
        done = 0

        def advance(rows: int) -> None:
            nonlocal done, last
            done += rows
            now = time.perf_counter()
            if now - last >= 10:
                last = now
                of = f"/{total}" if total else ""
                log.info("%s: %d%s rows, %.0f rows/s", description, done, of, done / (now - started))

        yield advance
        elapsed = time.perf_counter() - started
        log.info("%s: %d rows in %.2fs (%.0f rows/s)", description, done, elapsed, done / max(elapsed, 1e-9))


class StageTimes:
    """Wall time per named stage of a flow, for the breakdown `-v` prints (where a run's time
    goes is the first question when it is slow)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def total(self) -> float:
        return sum(self.seconds.values())

    def summary(self, total: float) -> str:
        parts = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in self.seconds.items())
        return f"{parts}; other {max(total - self.total(), 0):.2f}s of {total:.2f}s"
