"""Alias history: every move of an alias is an event with who, when and why.

Events are stored as registered-model tags (one tag per event) so they live in any MLflow
backend, including SageMaker managed MLflow, and replaying them tells who was champion when.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

EVENT_TAG_PREFIX = "mlplatform.alias_event."
Action = Literal["promote", "manual", "rollback", "challenger"]


@dataclass(frozen=True)
class AliasEvent:
    seq: int
    alias: str
    version: str
    previous_version: str | None
    action: Action
    actor: str
    at: str
    reason: str

    @property
    def tag_key(self) -> str:
        return f"{EVENT_TAG_PREFIX}{self.seq:06d}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AliasEvent:
        return cls(**json.loads(text))


PENDING_PROMOTION_TAG = "mlplatform.promotion_pending"


@dataclass(frozen=True)
class PromotionIntent:
    """An alias move written down before any of its steps, so a process killed half-way leaves
    something the next one can finish: the decision tags, the alias, its event, the challenger
    alias cleared and the legacy stage in step. Every step is idempotent."""

    version: str
    alias: str
    previous_version: str | None
    action: Action
    actor: str
    at: str
    reason: str
    decision_tags: dict[str, str]
    clears: str | None = None  # the challenger alias, cleared when it points at `version`
    legacy_stage: bool = False  # the champion: keep `models:/name/Production` readers in step

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PromotionIntent:
        return cls(**json.loads(text))

    def event(self, seq: int) -> AliasEvent:
        return AliasEvent(
            seq, self.alias, self.version, self.previous_version, self.action, self.actor, self.at, self.reason
        )

    def recorded_in(self, events: list[AliasEvent]) -> AliasEvent | None:
        """The event this intent already wrote, if it got that far."""
        return next(
            (
                e
                for e in events
                if (e.alias, e.version, e.action, e.at) == (self.alias, self.version, self.action, self.at)
            ),
            None,
        )


def events_from_tags(tags: dict[str, str]) -> list[AliasEvent]:
    """All events in the order they happened."""
    return [AliasEvent.from_json(tags[k]) for k in sorted(tags) if k.startswith(EVENT_TAG_PREFIX)]


def next_seq(events: list[AliasEvent]) -> int:
    return max((e.seq for e in events), default=0) + 1


def champion_stack(events: list[AliasEvent], alias: str) -> list[str]:
    """The versions that held `alias`, oldest first, with rolled-back ones removed.

    A promote or manual move pushes its version; a rollback pops the current holder. The top
    of the stack is the current champion and the one below it is where a rollback goes.
    """
    stack: list[str] = []
    for event in events:
        if event.alias != alias:
            continue
        if event.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != event.version:
                stack.append(event.version)
        elif not stack or stack[-1] != event.version:
            stack.append(event.version)
    return stack
