"""The one interface every prediction sink implements, and the batch they all receive.

A scoring run hands each scored batch to every sink, then commits all of them or aborts all of
them. A sink owns its format, its part of the `_SUCCESS` manifest and its metrics; the flow
knows none of that. The life of a sink in a run:

    check()          can it work at all? (also what `mlplatform check` runs)
    open(stamp)      prepare for this run (a staging folder, a producer)
    write(batch)     per scored batch
    finish()         everything written is durable, nothing visible yet; returns the sink's
                     manifest section, metrics and summary line
    commit(manifest) make the run's output visible (the manifest holds every sink's section)
    abort()          drop whatever this run staged; never raises

Two phases, because the run's own bookkeeping (MLflow metrics, the drift verdict) must be
settled after every sink finished and before any output becomes visible.

A `Publisher` (Kafka) is not fed while scoring: it sends a date only once the files are
committed, reading them back, so a run that fails validation, drift or the commit publishes
nothing, and a failed publish is resumed from the committed files (`mlplatform publish`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from mlplatform.scoring.batch import ScoredBatch
from mlplatform.scoring.messages import (
    RunStamp,
    prediction_documents,
    prediction_ids,
    prediction_table,
    quarantine_table,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlplatform.sinks.committed import CommittedOutput

T = TypeVar("T")


@dataclass(frozen=True)
class PredictionBatch:
    """One scored batch with its run stamp; the views sinks need are built once, on demand,
    so two sinks that want the same JSON documents do not build them twice."""

    stamp: RunStamp
    scored: ScoredBatch
    feature_names: list[str]
    classes: list[Any]

    def __len__(self) -> int:
        return len(self.scored)

    @cached_property
    def ids(self) -> pa.Array:
        return prediction_ids(self.stamp.key_prefix, self.scored.row_ids)

    @cached_property
    def documents(self) -> pa.Array:
        """One JSON document per row: the JSONL lines (and, read back, the Kafka messages)."""
        return prediction_documents(self.stamp, self.table, self.feature_names, self.classes)

    @cached_property
    def table(self) -> pa.Table:
        return prediction_table(self.stamp, self.ids, self.scored, self.feature_names, self.classes)

    @cached_property
    def quarantine(self) -> pa.Table | None:
        """Rows that could not be scored, with the reason per row (None when there are none)."""
        scored = self.scored
        if not len(scored.bad_row_ids):
            return None
        return quarantine_table(
            self.stamp.key_prefix, scored.bad_row_ids, scored.bad_features, self.feature_names, scored.bad_reasons
        )


@dataclass(frozen=True)
class SinkResult:
    """What a committed sink reports: its manifest section, its metrics and one line for people."""

    name: str
    section: dict[str, Any]
    summary: str
    metrics: dict[str, float] = field(default_factory=dict)


class Sink(abc.ABC):
    """A place predictions are stored. Implementations: FileSink (files/S3), PostgresSink."""

    name: str
    # What `check()` connects to, when it talks to a remote service: the flow runs that check
    # as a step of its own before the run starts (None: open() finds out soon enough).
    preflight: str | None = None
    # The sink whose commit writes the `_SUCCESS` manifest; it commits after every other sink,
    # so the manifest holds their sections.
    writes_manifest: bool = False

    @abc.abstractmethod
    def check(self) -> str:
        """Raise an MLPlatformError when the sink cannot work; else say what was checked."""

    @abc.abstractmethod
    def open(self, stamp: RunStamp) -> None:
        """Prepare for the run `stamp` describes."""

    @abc.abstractmethod
    def write(self, batch: PredictionBatch) -> None: ...

    @abc.abstractmethod
    def finish(self) -> SinkResult:
        """Wait until everything written is durable (acknowledged, uploaded); nothing visible."""

    @abc.abstractmethod
    def commit(self, manifest: dict[str, Any]) -> None:
        """Make this run's output visible; `manifest` holds the run's and every sink's section."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop what this run staged. Called after a failure: must not raise."""

    def sweep(self, idle: Callable[[dict[str, Any]], bool]) -> list[str]:
        """Remove what runs that died before their commit left behind, where `idle(entry)` says
        the run of a `_pending` entry is over; returns what was removed. Stores without
        leftovers keep this."""
        return []

    def _opened(self, part: T | None) -> T:
        """What `open()` prepared; a sink used before `open()` is a programming error."""
        if part is None:
            raise RuntimeError(f"{type(self).__name__}.open() was not called")
        return part


class Publisher(abc.ABC):
    """Sends a committed date somewhere else, after the commit. Implementations: KafkaPublisher."""

    name: str
    preflight: str | None = None

    @abc.abstractmethod
    def check(self) -> str:
        """Raise an MLPlatformError when the publisher cannot work; else say what was checked."""

    @abc.abstractmethod
    def publish(self, output: CommittedOutput, advance: Callable[[int], None]) -> SinkResult:
        """Send every prediction of `output`; raise (naming what was and was not sent) unless
        every one was acknowledged. Safe to repeat: the same keys and values again."""
