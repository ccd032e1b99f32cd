"""One run per model, date (and shard) at a time, and what runs that died left behind.

Scoring and publishing a date take the same lock in the state directory, so a publish never
reads a date being replaced. A run that dies before its commit leaves its parts and a `_pending`
entry; the next run of the model sweeps them for every date nobody is working on.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlplatform.config.settings import Settings
from mlplatform.locks import RunInProgressError, exclusive_lock, is_free, process_alive
from mlplatform.sinks import Sink

log = logging.getLogger(__name__)

# A run on another machine cannot be probed: its entry counts as abandoned after this long.
ABANDONED_AFTER = timedelta(hours=24)


def run_lock(settings: Settings, logical_date: str, shard: str | None) -> Path:
    """The lock of one model, date (and shard) in a state directory: scoring and publishing it."""
    # model names are [A-Za-z0-9._-] (a settings rule) and dates ISO: safe in a file name
    name = f"score-{settings.model_name}-{logical_date}" + (f"-{shard}" if shard else "")
    return settings.state_dir / "locks" / f"{name.replace('=', '-')}.lock"


@contextmanager
def date_run(settings: Settings, logical_date: str) -> Iterator[None]:
    """Hold the model and date (and shard): a second run waits (`inference.wait`) or stops with
    RunInProgressError (exit 75) before touching anything."""
    inference = settings.inference
    lock = run_lock(settings, logical_date, inference.shard)
    what = f"scoring {settings.model_name} for {logical_date}"
    fix = "wait for it, or pass --wait to queue behind it"
    with exclusive_lock(lock, what, wait=inference.wait, fix=fix, error=RunInProgressError):
        yield


def sweep_abandoned(settings: Settings, logical_date: str, stores: Sequence[Sink]) -> None:
    """Remove what runs that died before their commit left behind, for any date of the model
    nobody is scoring now. On this machine the run's pid and lock tell; a run another machine
    started (a SageMaker host writing its own shard of the same S3 prefix) is only taken for
    dead once it is older than ABANDONED_AFTER."""
    here, shard, now = socket.gethostname(), settings.inference.shard, datetime.now(UTC)

    def idle(entry: dict[str, Any]) -> bool:
        if entry.get("host", here) != here:
            started = entry.get("started_at")
            return started is not None and datetime.fromisoformat(started) < now - ABANDONED_AFTER
        pid = entry.get("pid")
        if pid is not None and pid != os.getpid() and process_alive(int(pid)):
            return False
        key = (entry["date"], entry.get("shard"))
        return key == (logical_date, shard) or is_free(run_lock(settings, *key))  # ours: we hold it

    for sink in stores:
        for removed in sink.sweep(idle):
            log.info("removed the parts of an abandoned run: %s", removed)
