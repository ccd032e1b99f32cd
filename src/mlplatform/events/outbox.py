"""Delivery from the event log: each channel sends the events after its cursor, in order, and
its cursor moves only past what it delivered. One process delivers a channel at a time (others
skip it); a channel that failed last time is tried once, without retries, when a pipeline
emits, so a dead receiver does not slow every run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from mlplatform.events.channels import Channel, DeliveryError
from mlplatform.events.log import Cursor, EventLog
from mlplatform.locks import LockBusyError, exclusive_lock

log = logging.getLogger(__name__)
CHUNK = 100


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    behind: int  # events in the log not yet delivered
    failures: int
    last_error: str | None


def deliver_pending(events: EventLog, channels: Sequence[Channel]) -> list[ChannelStatus]:
    """Send what each channel has not delivered yet; never raises (failures are counted)."""
    statuses = []
    for channel in channels:
        try:
            with exclusive_lock(events.folder / f"{channel.name}.delivery.lock", "event delivery", wait=False):
                _deliver(events, channel)
        except LockBusyError:
            pass  # another process is delivering this channel right now
        statuses.append(status_of(events, channel.name))
    return statuses


def _deliver(events: EventLog, channel: Channel) -> None:
    cursor = events.cursor(channel.name)
    pending, end = events.read(cursor.delivered)
    position = cursor.delivered
    try:
        for start in range(0, len(pending), CHUNK):
            chunk = pending[start : start + CHUNK]
            channel.send([event for _, event in chunk])
            position = chunk[-1][0] + 1 if start + CHUNK < len(pending) else end
            events.save_cursor(channel.name, Cursor(position))
        if not pending and end != cursor.delivered:  # only unreadable lines: step past them
            events.save_cursor(channel.name, Cursor(end))
    except DeliveryError as exc:
        log.warning("event delivery to %s failed (kept in the outbox, sent again later): %s", channel.name, exc)
        events.save_cursor(channel.name, Cursor(position, cursor.failures + 1, str(exc)))


def status_of(events: EventLog, channel: str) -> ChannelStatus:
    cursor = events.cursor(channel)
    return ChannelStatus(channel, max(events.count() - cursor.delivered, 0), cursor.failures, cursor.last_error)
