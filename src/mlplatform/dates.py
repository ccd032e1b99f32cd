"""The logical date of a run: the day a run stands for, whenever it actually runs.

One type and one parser for the CLI's `--date`, the SageMaker entrypoints' `LogicalDate`
parameter and the scheduler's fire times, so all three accept and print the same thing:
an ISO date, YYYY-MM-DD; `auto` (or nothing) means today in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import NewType
from zoneinfo import ZoneInfo

from mlplatform.errors import BadInputError

LogicalDate = NewType("LogicalDate", str)
AUTO = "auto"


def today() -> LogicalDate:
    return LogicalDate(datetime.now(UTC).date().isoformat())


def parse_logical_date(value: str | None, option: str = "--date") -> LogicalDate:
    """`None`, "" or "auto" -> today (UTC); otherwise exactly YYYY-MM-DD."""
    if value is None or value.strip() in ("", AUTO):
        return today()
    try:
        return LogicalDate(datetime.strptime(value.strip(), "%Y-%m-%d").date().isoformat())
    except ValueError:
        raise BadInputError(
            f"invalid {option} {value!r}", f"use YYYY-MM-DD, e.g. {option} 2026-11-22, or auto"
        ) from None


def logical_date_of(fire: datetime, zone: ZoneInfo) -> LogicalDate:
    """The date a scheduled fire time stands for: its calendar date in the schedule's zone."""
    return LogicalDate(fire.astimezone(zone).date().isoformat())


def dates_between(start: str, end: str) -> list[LogicalDate]:
    """Every date from `start` to `end`, inclusive, in order."""
    first, last = parse_logical_date(start, "--from"), parse_logical_date(end, "--to")
    if last < first:
        raise BadInputError(f"--to {end} is before --from {start}", "swap the dates")
    days = (date.fromisoformat(last) - date.fromisoformat(first)).days
    return [LogicalDate((date.fromisoformat(first) + timedelta(days=i)).isoformat()) for i in range(days + 1)]
