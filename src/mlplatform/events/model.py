"""The event: one type for everything that happens to a model (pure)."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = (
    "version_registered",
    "gate_decided",
    "promoted",
    "rolled_back",
    "scoring_committed",
    "scoring_failed",
    "drift_detected",
    "labels_added",
    "quality_degraded",
    "retrain_triggered",
)


@dataclass(frozen=True)
class Event:
    """`{"id", "type", "time" (UTC ISO 8601), "model", "version", "date", "details"}`."""

    type: str
    model: str
    version: str | None = None
    date: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")

    def to_json(self) -> str:
        body = {key: value for key, value in asdict(self).items()}
        ordered = {k: body[k] for k in ("id", "type", "time", "model", "version", "date", "details")}
        return json.dumps(ordered, separators=(",", ":"), sort_keys=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> Event:
        return cls(**json.loads(text))
