"""AWS schedule expressions, evaluated exactly as EventBridge (Scheduler) evaluates them.

    cron(minutes hours day-of-month month day-of-week year)
    rate(value minute|minutes|hour|hours|day|days)
    at(yyyy-mm-ddThh:mm:ss)

Cron: `* , - /` in every field; `?`, `L`, `W`, `LW` in day-of-month; `?`, `L`, `nL`, `n#k` in
day-of-week; month names JAN-DEC; weekday names SUN-SAT with 1 = Sunday ... 7 = Saturday; one
of day-of-month / day-of-week must be `?`. Evaluated in an IANA time zone (UTC by default):
a local time skipped by a DST change does not fire, a local time repeated by one fires once
(the first time). `rate()` counts fixed durations (a day is 24 hours) from an anchor (the Unix
epoch unless the schedule has a start), so fire times stay put across restarts.

Pure: no I/O. Anything invalid is a ScheduleError naming the field and what is allowed; nothing
is silently reinterpreted.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlplatform.errors import ConfigError

MONTHS = {
    name: i
    for i, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
WEEKDAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
YEAR_MIN, YEAR_MAX = 1970, 2199
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ConfigError):
    """An invalid schedule expression or time zone (bad usage: exit code 2)."""


def _fail(expression: str, problem: str, allowed: str) -> ScheduleError:
    return ScheduleError(f"invalid schedule {expression!r}: {problem}", f"allowed: {allowed}")


# -- fields ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: dict[str, int] | None
    allowed: str


MINUTES = _FieldSpec("minutes", 0, 59, None, "0-59 with , - * /")
HOURS = _FieldSpec("hours", 0, 23, None, "0-23 with , - * /")
DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31, None, "1-31 with , - * / ? L W (e.g. 15, L, LW, 15W)")
MONTH = _FieldSpec("month", 1, 12, MONTHS, "1-12 or JAN-DEC with , - * /")
DAY_OF_WEEK = _FieldSpec(
    "day-of-week", 1, 7, WEEKDAYS, "1-7 or SUN-SAT (1 = SUN) with , - * ? L # (e.g. MON-FRI, 6L, 2#1)"
)
YEAR = _FieldSpec("year", YEAR_MIN, YEAR_MAX, None, f"{YEAR_MIN}-{YEAR_MAX} with , - * /")


def _number(text: str, spec: _FieldSpec, expression: str) -> int:
    upper = text.upper()
    if spec.names and upper in spec.names:
        return spec.names[upper]
    if not text.isdigit():
        raise _fail(expression, f"{spec.name} field: {text!r} is not a value", spec.allowed)
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise _fail(expression, f"{spec.name} field: {value} is out of range {spec.low}-{spec.high}", spec.allowed)
    return value


def _values(text: str, spec: _FieldSpec, expression: str) -> frozenset[int]:
    """`*`, `5`, `1-5`, `0/15`, `*/15`, `10-40/10`, `MON-FRI`, comma lists of these."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _fail(expression, f"{spec.name} field: empty item in {text!r}", spec.allowed)
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise _fail(expression, f"{spec.name} field: bad increment in {item!r}", spec.allowed)
            step = int(step_text)
        if base == "*":
            start, end = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, spec, expression), _number(last, spec, expression)
            if start > end:
                raise _fail(expression, f"{spec.name} field: range {base!r} runs backwards", spec.allowed)
        else:
            start = _number(base, spec, expression)
            end = spec.high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class _DayOfMonth:
    values: frozenset[int] = frozenset()
    last: bool = False
    last_weekday: bool = False
    nearest_weekday: int | None = None

    def days(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        if self.last:
            return {length}
        if self.last_weekday:
            return {_nearest_weekday(year, month, length, length)}
        if self.nearest_weekday is not None:
            if self.nearest_weekday > length:
                return set()
            return {_nearest_weekday(year, month, self.nearest_weekday, length)}
        return {d for d in self.values if d <= length}


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    """Weekday (Mon-Fri) closest to `day`, never leaving the month (AWS/Quartz `W`)."""
    weekday = date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return day + 1 if day < length else day - 2
    return day


@dataclass(frozen=True)
class _DayOfWeek:
    values: frozenset[int] = frozenset()  # 1 = Sunday ... 7 = Saturday
    last_of: int | None = None  # nL: last <weekday> of the month
    nth: tuple[int, int] | None = None  # (weekday, n): n-th <weekday> of the month

    def days(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        aws = [(date(year, month, d).isoweekday() % 7) + 1 for d in range(1, length + 1)]  # Sun=1
        if self.last_of is not None:
            return {max(d for d in range(1, length + 1) if aws[d - 1] == self.last_of)}
        if self.nth is not None:
            weekday, n = self.nth
            matching = [d for d in range(1, length + 1) if aws[d - 1] == weekday]
            return {matching[n - 1]} if n <= len(matching) else set()
        return {d for d in range(1, length + 1) if aws[d - 1] in self.values}


def _day_of_month(text: str, expression: str) -> _DayOfMonth:
    upper = text.upper()
    if upper == "L":
        return _DayOfMonth(last=True)
    if upper == "LW":
        return _DayOfMonth(last_weekday=True)
    if upper.endswith("W"):
        day = upper[:-1]
        if not day.isdigit() or not 1 <= int(day) <= 31:
            raise _fail(expression, f"day-of-month field: {text!r} needs a day 1-31 before W", DAY_OF_MONTH.allowed)
        return _DayOfMonth(nearest_weekday=int(day))
    if "L" in upper or "W" in upper:
        raise _fail(expression, f"day-of-month field: L and W must stand alone, not in {text!r}", DAY_OF_MONTH.allowed)
    return _DayOfMonth(values=_values(text, DAY_OF_MONTH, expression))


def _day_of_week(text: str, expression: str) -> _DayOfWeek:
    upper = text.upper()
    if upper == "L":
        return _DayOfWeek(values=frozenset({7}))  # the last day of the week: Saturday
    if upper.endswith("L"):
        return _DayOfWeek(last_of=_number(upper[:-1], DAY_OF_WEEK, expression))
    if "#" in upper:
        weekday, _, nth = upper.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise _fail(expression, f"day-of-week field: {text!r} needs #1 to #5", DAY_OF_WEEK.allowed)
        return _DayOfWeek(nth=(_number(weekday, DAY_OF_WEEK, expression), int(nth)))
    if "L" in upper.replace("SAT", "").replace("JUL", ""):
        raise _fail(expression, f"day-of-week field: L must follow one weekday, not {text!r}", DAY_OF_WEEK.allowed)
    return _DayOfWeek(values=_values(text, DAY_OF_WEEK, expression))


# -- schedules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A parsed expression plus the time zone it is evaluated in."""

    expression: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def next_after(self, after: datetime) -> datetime | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def fire_times(self, after: datetime, limit: int) -> list[datetime]:
        """Up to `limit` fire times strictly after `after`, in UTC."""
        times: list[datetime] = []
        current = after
        while len(times) < limit and (following := self.next_after(current)) is not None:
            times.append(following)
            current = following
        return times

    def fire_times_between(self, start: datetime, end: datetime, limit: int = 100_000) -> list[datetime]:
        """Fire times in (start, end]."""
        times: list[datetime] = []
        current = start
        while len(times) < limit and (following := self.next_after(current)) is not None and following <= end:
            times.append(following)
            current = following
        return times


@dataclass(frozen=True)
class CronSchedule(Schedule):
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: _DayOfMonth | None  # None: '?'
    months: frozenset[int]
    day_of_week: _DayOfWeek | None  # None: '?'
    years: frozenset[int]

    def _days(self, year: int, month: int) -> list[int]:
        spec = self.day_of_month if self.day_of_month is not None else self.day_of_week
        assert spec is not None
        return sorted(spec.days(year, month))

    def next_after(self, after: datetime) -> datetime | None:
        zone = self.zone
        local = _utc(after).astimezone(zone)
        start_day = local.date()
        for year in sorted(y for y in self.years if y >= start_day.year):
            for month in sorted(self.months):
                if (year, month) < (start_day.year, start_day.month):
                    continue
                for day in self._days(year, month):
                    if date(year, month, day) < start_day:
                        continue
                    for hour in sorted(self.hours):
                        for minute in sorted(self.minutes):
                            candidate = _resolve_local(datetime(year, month, day, hour, minute), zone)
                            if candidate is not None and candidate > _utc(after):
                                return candidate
        return None


@dataclass(frozen=True)
class RateSchedule(Schedule):
    seconds: int
    anchor: datetime = EPOCH

    def next_after(self, after: datetime) -> datetime | None:
        elapsed = (_utc(after) - self.anchor).total_seconds()
        if elapsed < 0:
            return self.anchor
        periods = int(elapsed // self.seconds) + 1
        return self.anchor + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class AtSchedule(Schedule):
    when: datetime  # UTC

    def next_after(self, after: datetime) -> datetime | None:
        return self.when if self.when > _utc(after) else None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("fire-time arithmetic needs an aware datetime")
    return moment.astimezone(UTC)


def _resolve_local(naive: datetime, zone: ZoneInfo) -> datetime | None:
    """UTC instant of a local wall-clock time: None inside a DST gap, the first one in an overlap."""
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != naive:
        return None  # skipped by the clock change: EventBridge Scheduler skips the invocation
    return first


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {timezone!r}", "use an IANA name such as UTC, Europe/Berlin or America/New_York"
        ) from None
    return timezone


_CALL = re.compile(r"^\s*(cron|rate|at)\((.*)\)\s*$", re.DOTALL)


def parse(expression: str, timezone: str = "UTC", anchor: datetime | None = None) -> Schedule:
    """Parse and validate an AWS schedule expression (evaluated in `timezone`)."""
    check_timezone(timezone)
    match = _CALL.match(expression)
    if not match:
        raise _fail(expression, "not a schedule expression", "cron(...), rate(...) or at(...)")
    kind, body = match.group(1), match.group(2).strip()
    if kind == "rate":
        return _parse_rate(expression, body, timezone, anchor)
    if kind == "at":
        try:
            when = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise _fail(expression, f"{body!r} is not yyyy-mm-ddThh:mm:ss", "at(2026-12-01T06:00:00)") from None
        resolved = _resolve_local(when, ZoneInfo(timezone))
        if resolved is None:
            raise _fail(expression, f"{body} does not exist in {timezone} (DST change)", "another local time")
        return AtSchedule(expression, timezone, resolved)
    return _parse_cron(expression, body, timezone)


def _parse_rate(expression: str, body: str, timezone: str, anchor: datetime | None) -> RateSchedule:
    parts = body.split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise _fail(expression, "rate needs a whole number and a unit", "rate(5 minutes), rate(1 hour), rate(1 day)")
    value, unit = int(parts[0]), parts[1]
    if value <= 0:
        raise _fail(expression, "the rate value must be positive", "rate(1 minute) or more")
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in RATE_UNITS or unit not in (singular, singular + "s"):
        raise _fail(expression, f"unknown unit {unit!r}", "minute(s), hour(s), day(s)")
    if value == 1 and unit != singular:
        raise _fail(expression, f"a value of 1 takes the singular unit, not {unit!r}", f"rate(1 {singular})")
    if value > 1 and unit == singular:
        raise _fail(expression, f"a value above 1 takes the plural unit, not {unit!r}", f"rate({value} {singular}s)")
    return RateSchedule(expression, timezone, value * RATE_UNITS[singular], _utc(anchor) if anchor else EPOCH)


def _parse_cron(expression: str, body: str, timezone: str) -> CronSchedule:
    fields = body.split()
    if len(fields) != 6:
        raise _fail(
            expression,
            f"cron takes 6 fields, got {len(fields)}",
            "cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 2 ? * SUN *)",
        )
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise _fail(
            expression,
            "exactly one of day-of-month and day-of-week must be '?'",
            "cron(0 6 * * ? *) or cron(0 2 ? * SUN *)",
        )
    return CronSchedule(
        expression,
        timezone,
        minutes=_values(minute, MINUTES, expression),
        hours=_values(hour, HOURS, expression),
        day_of_month=None if dom == "?" else _day_of_month(dom, expression),
        months=_values(month, MONTH, expression),
        day_of_week=None if dow == "?" else _day_of_week(dow, expression),
        years=_values(year, YEAR, expression),
    )


def to_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
