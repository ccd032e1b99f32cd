"""When to retrain, from evidence rather than the calendar alone: a pure function from what is
known about the champion's dates to a decision and every reason, fired or not.

Evidence counts for the version that produced it: only dates scored by the current champion
(whatever their logical date) speak about it. Rules, each off unless configured:

- on_quality_drop: a date's realized quality is `degraded`;
- on_drift: at least `features` features drifted on at least `dates` of the champion's last
  `window` scored dates;
- max_age_days: the champion is older than this.

Any fired rule means `retrain`, unless the last training is younger than `cooldown_days`
(`cooldown`: the reasons stand, the training waits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Action = Literal["retrain", "wait", "cooldown"]


@dataclass(frozen=True)
class DriftRule:
    features: int = 1
    dates: int = 2
    window: int = 3


@dataclass(frozen=True)
class RetrainPolicy:
    on_quality_drop: bool = False
    on_drift: DriftRule | None = None
    max_age_days: float | None = None
    cooldown_days: float | None = None

    @property
    def can_fire(self) -> bool:
        """Whether any rule is set: with none, every decision is `wait`."""
        return self.on_quality_drop or self.on_drift is not None or self.max_age_days is not None


@dataclass(frozen=True)
class DateEvidence:
    """What one scored date says: who scored it, its quality status and its drifted features."""

    date: str
    version: str
    quality: str | None = None  # ok | degraded | insufficient | no-labels
    value: float | None = None
    reference: float | None = None
    metric: str | None = None
    drifted: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    champion: str | None
    champion_since: datetime | None  # when it became the champion
    last_trained: datetime | None  # the newest version's registration
    dates: tuple[DateEvidence, ...] = ()


@dataclass(frozen=True)
class Reason:
    rule: str
    fired: bool
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: tuple[Reason, ...]

    @property
    def fired(self) -> tuple[Reason, ...]:
        return tuple(reason for reason in self.reasons if reason.fired)

    def summary(self) -> str:
        fired = "; ".join(reason.detail for reason in self.fired) or "no rule fired"
        return f"{self.action}: {fired}"

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reasons": [asdict(reason) for reason in self.reasons]}


def decide(policy: RetrainPolicy, evidence: Evidence, now: datetime) -> Decision:
    """The decision and every configured rule's reason, with the dates and values behind it."""
    if evidence.champion is None:
        return Decision("wait", (Reason("champion", False, "no champion yet: the scheduled training makes one"),))
    own = sorted((d for d in evidence.dates if d.version == evidence.champion), key=lambda d: d.date)
    reasons = []
    if policy.on_quality_drop:
        reasons.append(_quality_reason(own))
    if policy.on_drift is not None:
        reasons.append(_drift_reason(policy.on_drift, own))
    if policy.max_age_days is not None:
        reasons.append(_age_reason(policy.max_age_days, evidence, now))
    if not any(reason.fired for reason in reasons):
        return Decision("wait", tuple(reasons))
    if policy.cooldown_days is not None and evidence.last_trained is not None:
        since = now - evidence.last_trained
        if since < timedelta(days=policy.cooldown_days):
            detail = f"last trained {_days(since)} ago, cooldown {policy.cooldown_days:g} days"
            cooldown = Reason("cooldown_days", True, detail, {"last_trained": evidence.last_trained.isoformat()})
            return Decision("cooldown", (*reasons, cooldown))
    return Decision("retrain", tuple(reasons))


def _quality_reason(own: list[DateEvidence]) -> Reason:
    degraded = [d for d in own if d.quality == "degraded"]
    if not degraded:
        labelled = sum(1 for d in own if d.quality in ("ok", "degraded"))
        return Reason("on_quality_drop", False, f"no degraded date ({labelled} of {len(own)} dates with quality)")
    first = degraded[-1]
    detail = (
        f"realized {first.metric} {first.value:.3f} on {first.date} is below the reference {first.reference:.3f}"
        if first.value is not None and first.reference is not None
        else f"{first.date} is degraded"
    )
    if len(degraded) > 1:
        detail += f" ({len(degraded)} degraded dates)"
    dates = [{"date": d.date, "metric": d.metric, "value": d.value, "reference": d.reference} for d in degraded]
    return Reason("on_quality_drop", True, detail, {"dates": dates})


def _drift_reason(rule: DriftRule, own: list[DateEvidence]) -> Reason:
    window = own[-rule.window :]
    drifted = [d for d in window if len(d.drifted) >= rule.features]
    evidence = {"window": [d.date for d in window], "dates": {d.date: list(d.drifted) for d in drifted}}
    fired = len(drifted) >= rule.dates
    detail = (
        f"{len(drifted)} of the last {len(window)} dates had >= {rule.features} drifted features "
        f"(rule: {rule.dates} of {rule.window})"
    )
    if fired:
        features = sorted({feature for d in drifted for feature in d.drifted})
        detail += f": {', '.join(features)}"
    return Reason("on_drift", fired, detail, evidence)


def _age_reason(max_age_days: float, evidence: Evidence, now: datetime) -> Reason:
    if evidence.champion_since is None:
        return Reason("max_age_days", False, "the champion's promotion time is unknown")
    age = now - evidence.champion_since
    fired = age > timedelta(days=max_age_days)
    detail = f"champion v{evidence.champion} is {_days(age)} old (limit {max_age_days:g} days)"
    return Reason("max_age_days", fired, detail, {"champion_since": evidence.champion_since.isoformat()})


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:.1f} days"
