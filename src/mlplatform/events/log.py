"""The append-only event log in the state directory: one JSON line per event, appended under a
lock by whichever process emits it; each channel keeps how many lines it has delivered."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlplatform.events.model import Event
from mlplatform.locks import exclusive_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cursor:
    """How far a channel has got: lines delivered, failures since the last success, last error."""

    delivered: int = 0
    failures: int = 0
    last_error: str | None = None


class EventLog:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "events"
        self.path = self.folder / "events.jsonl"

    def append(self, event: Event) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        line = (event.to_json() + "\n").encode()
        with exclusive_lock(self.folder / "events.lock", "the event log"):
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)

    def read(self, start: int = 0) -> tuple[list[tuple[int, Event]], int]:
        """(line number, event) from line `start` on, and the line to read from next time. A torn
        last line (a crash mid-append) is not read yet; an unreadable complete line is skipped with
        a warning."""
        if not self.path.exists():
            return [], start
        found, end = [], start
        with self.path.open() as handle:
            for number, line in enumerate(handle):
                if number < start:
                    continue
                if not line.endswith("\n"):
                    break
                end = number + 1
                try:
                    found.append((number, Event.from_json(line)))
                except (ValueError, TypeError):
                    log.warning("skipping an unreadable line %d of %s", number + 1, self.path)
        return found, end

    def events(self) -> list[Event]:
        return [event for _, event in self.read()[0]]

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open() as handle:
            return sum(1 for line in handle if line.endswith("\n"))

    def follow(self, start: int, poll_s: float = 0.5) -> Iterator[Event]:
        """Events as they are appended, from line `start` on (until interrupted)."""
        position = start
        while True:
            new, position = self.read(position)
            yield from (event for _, event in new)
            if not new:
                time.sleep(poll_s)

    def cursor(self, channel: str) -> Cursor:
        path = self.folder / f"{channel}.cursor"
        try:
            return Cursor(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return Cursor()

    def save_cursor(self, channel: str, cursor: Cursor) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{channel}.cursor"
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(cursor.__dict__))
        os.replace(temporary, path)
