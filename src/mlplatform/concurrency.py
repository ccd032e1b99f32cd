"""Work beside the caller: the one background-stage mechanism, and how many cores there are.

Scoring hands each scored batch to the sinks while it scores the next one, and the Kafka
publisher produces one batch while the next is read back from the committed files: both are a
stage that runs in order in a thread of its own, a bounded number of items behind its caller,
whose first failure is raised in the caller and stops the rest.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def available_cores() -> int:
    """Cores this process may run on (its affinity, as `taskset` sets it), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class BackgroundStage:
    """Runs `stage(*args)` for each `submit` in order, in one thread, at most `depth` items
    behind the caller (a submit blocks while `depth` are waiting, so memory stays bounded).

    The first failure of the stage is raised in the caller, at the next `submit` or at `close`;
    items queued behind a failed one are skipped. `abort()` drops what is queued and waits for
    the item being worked on, so nothing runs after it returns. As a context manager: `close()`
    on success, `abort()` when the block raises."""

    def __init__(self, stage: Callable[..., None], depth: int = 2, name: str = "background") -> None:
        self._stage = stage
        self._depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: deque[Future[None]] = deque()
        self._failed = threading.Event()
        self._failure: BaseException | None = None

    def __enter__(self) -> BackgroundStage:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def submit(self, *args: Any) -> None:
        self._raise_failure()
        if self._failed.is_set():
            raise RuntimeError("submit() after abort()")
        while len(self._pending) >= self._depth:
            self._wait(self._pending.popleft())
        self._pending.append(self._pool.submit(self._run, args))

    def close(self) -> None:
        """Wait for every submitted item; raise the stage's first failure."""
        try:
            while self._pending:
                self._wait(self._pending.popleft())
            self._raise_failure()
        except BaseException:
            self.abort()
            raise
        self._pool.shutdown(wait=True)

    def abort(self) -> None:
        """Drop queued items, wait for the running one; never raises."""
        self._failed.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    @property
    def failed(self) -> bool:
        return self._failed.is_set()

    def _run(self, args: tuple[Any, ...]) -> None:
        if self._failed.is_set():
            return  # behind a failure (or an abort): nothing more is done
        try:
            self._stage(*args)
        except BaseException as exc:
            self._failure = self._failure or exc
            self._failed.set()
            raise

    def _wait(self, future: Future[None]) -> None:
        try:
            future.result()
        except BaseException:  # the first failure is raised, whichever item it was
            self._raise_failure()
            raise

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
