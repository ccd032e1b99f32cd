"""AWS schedule expressions, table-driven: AWS documentation examples, calendar edge cases,
DST transitions, and invalid expressions with their messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlplatform.schedules.expressions import ScheduleError, parse, to_iso


def fires(expression: str, after: str, n: int = 3, tz: str = "UTC") -> list[str]:
    start = datetime.fromisoformat(after.replace("Z", "+00:00"))
    return [to_iso(t) for t in parse(expression, tz).fire_times(start, n)]


# (expression, after, expected next fire times) - 2026-11-22 is a Sunday
CASES = [
    # the seeds' schedules
    (
        "cron(0 2 ? * SUN *)",
        "2026-11-22T00:00:00Z",
        ["2026-11-22T02:00:00Z", "2026-11-29T02:00:00Z", "2026-12-06T02:00:00Z"],
    ),
    (
        "cron(0 6 * * ? *)",
        "2026-11-22T06:00:00Z",
        ["2026-11-23T06:00:00Z", "2026-11-24T06:00:00Z", "2026-11-25T06:00:00Z"],
    ),
    (
        "cron(0 3 * * ? *)",
        "2026-12-31T04:00:00Z",
        ["2027-01-01T03:00:00Z", "2027-01-02T03:00:00Z", "2027-01-03T03:00:00Z"],
    ),
    (
        "rate(12 hours)",
        "2026-11-22T07:00:00Z",
        ["2026-11-22T12:00:00Z", "2026-11-23T00:00:00Z", "2026-11-23T12:00:00Z"],
    ),
    # AWS documentation examples
    (
        "cron(0 10 * * ? *)",
        "2026-11-22T10:00:00Z",
        ["2026-11-23T10:00:00Z", "2026-11-24T10:00:00Z", "2026-11-25T10:00:00Z"],
    ),
    (
        "cron(15 12 * * ? *)",
        "2026-11-22T00:00:00Z",
        ["2026-11-22T12:15:00Z", "2026-11-23T12:15:00Z", "2026-11-24T12:15:00Z"],
    ),
    (
        "cron(0 18 ? * MON-FRI *)",
        "2026-11-27T19:00:00Z",
        ["2026-11-30T18:00:00Z", "2026-12-01T18:00:00Z", "2026-12-02T18:00:00Z"],
    ),
    (
        "cron(0 8 1 * ? *)",
        "2026-11-22T00:00:00Z",
        ["2026-12-01T08:00:00Z", "2027-01-01T08:00:00Z", "2027-02-01T08:00:00Z"],
    ),
    (
        "cron(0/15 * * * ? *)",
        "2026-11-22T10:07:00Z",
        ["2026-11-22T10:15:00Z", "2026-11-22T10:30:00Z", "2026-11-22T10:45:00Z"],
    ),
    (
        "cron(0/10 * ? * MON-FRI *)",
        "2026-11-22T23:55:00Z",
        ["2026-11-23T00:00:00Z", "2026-11-23T00:10:00Z", "2026-11-23T00:20:00Z"],
    ),
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        "2026-11-23T17:56:00Z",
        ["2026-11-24T08:00:00Z", "2026-11-24T08:05:00Z", "2026-11-24T08:10:00Z"],
    ),
    (
        "cron(0 9 ? * 2#1 *)",
        "2026-11-22T00:00:00Z",
        ["2026-12-07T09:00:00Z", "2027-01-04T09:00:00Z", "2027-02-01T09:00:00Z"],
    ),
    # names, lists, ranges with steps, years
    (
        "cron(30 4 1,15 JAN,JUL ? 2027-2028)",
        "2026-11-22T00:00:00Z",
        ["2027-01-01T04:30:00Z", "2027-01-15T04:30:00Z", "2027-07-01T04:30:00Z"],
    ),
    ("cron(0 0 1 1 ? 2030)", "2029-06-01T00:00:00Z", ["2030-01-01T00:00:00Z"]),
    ("cron(0 0 1 1 ? 2030)", "2030-01-01T00:00:00Z", []),
    (
        "cron(10-40/10 1 * * ? *)",
        "2026-11-22T00:00:00Z",
        ["2026-11-22T01:10:00Z", "2026-11-22T01:20:00Z", "2026-11-22T01:30:00Z"],
    ),
    (
        "cron(0 12 ? * SAT,SUN *)",
        "2026-11-22T13:00:00Z",
        ["2026-11-28T12:00:00Z", "2026-11-29T12:00:00Z", "2026-12-05T12:00:00Z"],
    ),
    (
        "cron(0 12 ? * 1 *)",
        "2026-11-22T13:00:00Z",
        ["2026-11-29T12:00:00Z", "2026-12-06T12:00:00Z", "2026-12-13T12:00:00Z"],
    ),
    # L: last day of the month, leap years
    (
        "cron(0 0 L * ? *)",
        "2027-01-31T00:00:00Z",
        ["2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z", "2027-04-30T00:00:00Z"],
    ),
    (
        "cron(0 0 L 2 ? *)",
        "2027-03-01T00:00:00Z",
        ["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z", "2030-02-28T00:00:00Z"],
    ),
    (
        "cron(0 0 29 2 ? *)",
        "2026-11-22T00:00:00Z",
        ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"],
    ),
    (
        "cron(0 0 ? * L *)",
        "2026-11-22T00:00:00Z",
        ["2026-11-28T00:00:00Z", "2026-12-05T00:00:00Z", "2026-12-12T00:00:00Z"],
    ),
    (
        "cron(0 0 ? * 6L *)",
        "2026-11-22T00:00:00Z",
        ["2026-11-27T00:00:00Z", "2026-12-25T00:00:00Z", "2027-01-29T00:00:00Z"],
    ),
    (
        "cron(0 0 ? * FRIL *)",
        "2026-11-22T00:00:00Z",
        ["2026-11-27T00:00:00Z", "2026-12-25T00:00:00Z", "2027-01-29T00:00:00Z"],
    ),
    # W: nearest weekday, never crossing the month; LW: last weekday
    (
        "cron(0 0 15W * ? *)",
        "2026-11-01T00:00:00Z",
        ["2026-11-16T00:00:00Z", "2026-12-15T00:00:00Z", "2027-01-15T00:00:00Z"],
    ),
    (
        "cron(0 0 1W * ? *)",
        "2026-07-31T00:00:00Z",
        ["2026-08-03T00:00:00Z", "2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z"],
    ),
    (
        "cron(0 0 31W * ? *)",
        "2026-11-01T00:00:00Z",
        ["2026-12-31T00:00:00Z", "2027-01-29T00:00:00Z", "2027-03-31T00:00:00Z"],
    ),
    (
        "cron(0 0 LW * ? *)",
        "2026-11-22T00:00:00Z",
        ["2026-11-30T00:00:00Z", "2026-12-31T00:00:00Z", "2027-01-29T00:00:00Z"],
    ),
    # #: n-th weekday; a fifth one only in months that have it
    (
        "cron(0 0 ? * 5#5 *)",
        "2026-11-22T00:00:00Z",
        ["2026-12-31T00:00:00Z", "2027-04-29T00:00:00Z", "2027-07-29T00:00:00Z"],
    ),
    # rate: fixed durations from the epoch
    (
        "rate(1 minute)",
        "2026-11-22T10:07:30Z",
        ["2026-11-22T10:08:00Z", "2026-11-22T10:09:00Z", "2026-11-22T10:10:00Z"],
    ),
    ("rate(7 days)", "2026-11-22T00:00:00Z", ["2026-11-26T00:00:00Z", "2026-12-03T00:00:00Z", "2026-12-10T00:00:00Z"]),
    # at: once
    ("at(2026-12-01T10:00:00)", "2026-11-22T00:00:00Z", ["2026-12-01T10:00:00Z"]),
    ("at(2026-12-01T10:00:00)", "2026-12-01T10:00:00Z", []),
]


@pytest.mark.parametrize(("expression", "after", "expected"), CASES)
def test_next_fire_times(expression, after, expected):
    assert fires(expression, after) == expected


@pytest.mark.parametrize(
    ("expression", "tz", "after", "expected"),
    [
        # Spring forward (New York, 2027-03-14 02:00 -> 03:00): 02:30 does not exist that day.
        ("cron(30 2 * * ? *)", "America/New_York", "2027-03-13T00:00:00Z",
         ["2027-03-13T07:30:00Z", "2027-03-15T06:30:00Z", "2027-03-16T06:30:00Z"]),
        # Fall back (New York, 2027-11-07 02:00 -> 01:00): 01:30 happens twice, fires once (EDT).
        ("cron(30 1 * * ? *)", "America/New_York", "2027-11-06T00:00:00Z",
         ["2027-11-06T05:30:00Z", "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z"]),
        ("cron(0/30 1 * * ? *)", "America/New_York", "2027-11-07T04:00:00Z",
         ["2027-11-07T05:00:00Z", "2027-11-07T05:30:00Z", "2027-11-08T06:00:00Z"]),
        # Daily 06:00 Berlin stays 06:00 local across the change (UTC shifts by an hour).
        ("cron(0 6 * * ? *)", "Europe/Berlin", "2027-03-27T00:00:00Z",
         ["2027-03-27T05:00:00Z", "2027-03-28T04:00:00Z", "2027-03-29T04:00:00Z"]),
        # rate() is a fixed duration: the time zone changes nothing.
        ("rate(1 day)", "America/New_York", "2027-03-13T12:00:00Z",
         ["2027-03-14T00:00:00Z", "2027-03-15T00:00:00Z", "2027-03-16T00:00:00Z"]),
        ("at(2027-03-28T00:30:00)", "Europe/London", "2027-01-01T00:00:00Z", ["2027-03-28T00:30:00Z"]),
        ("at(2027-07-01T12:00:00)", "Europe/London", "2027-01-01T00:00:00Z", ["2027-07-01T11:00:00Z"]),
    ],
)  # fmt: skip
def test_time_zones_and_dst(expression, tz, after, expected):
    assert fires(expression, after, tz=tz) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 10 * * *)", "cron takes 6 fields, got 5"),
        ("cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(60 10 * * ? *)", "minutes field: 60 is out of range 0-59"),
        ("cron(0 24 * * ? *)", "hours field: 24 is out of range 0-23"),
        ("cron(0 0 32 * ? *)", "day-of-month field: 32 is out of range 1-31"),
        ("cron(0 0 * 13 ? *)", "month field: 13 is out of range 1-12"),
        ("cron(0 0 * FOO ? *)", "month field: 'FOO' is not a value"),
        ("cron(0 0 ? * MON-XYZ *)", "day-of-week field: 'XYZ' is not a value"),
        ("cron(0 0 ? * 8 *)", "day-of-week field: 8 is out of range 1-7"),
        ("cron(0 0 ? * 2#6 *)", "needs #1 to #5"),
        ("cron(0 0 ? * FRI-MON *)", "range 'FRI-MON' runs backwards"),
        ("cron(0/0 * * * ? *)", "bad increment"),
        ("cron(0 0 * * ? 1969)", "year field: 1969 is out of range 1970-2199"),
        ("cron(0 0 L-2 * ? *)", "L and W must stand alone"),
        ("cron(0 0 0W * ? *)", "needs a day 1-31 before W"),
        ("cron(0 0 1,,2 * ? *)", "empty item"),
        ("rate(1 minutes)", "a value of 1 takes the singular unit"),
        ("rate(5 minute)", "a value above 1 takes the plural unit"),
        ("rate(0 minutes)", "the rate value must be positive"),
        ("rate(5 seconds)", "unknown unit 'seconds'"),
        ("rate(five minutes)", "rate needs a whole number and a unit"),
        ("at(2026-12-01 10:00)", "is not yyyy-mm-ddThh:mm:ss"),
        ("0 2 * * SUN", "not a schedule expression"),
    ],
)
def test_invalid_expressions_are_rejected_with_the_reason(expression, message):
    with pytest.raises(ScheduleError) as info:
        parse(expression)
    assert message in info.value.headline
    assert info.value.fix.startswith("allowed:")


def test_unknown_time_zone():
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        parse("rate(1 day)", "Mars/Olympus")


def test_nonexistent_local_time_for_at():
    with pytest.raises(ScheduleError, match="does not exist in America/New_York"):
        parse("at(2027-03-14T02:30:00)", "America/New_York")


def test_fire_times_between_is_half_open():
    schedule = parse("cron(0 6 * * ? *)")
    start = datetime(2026, 11, 20, 6, tzinfo=UTC)
    end = datetime(2026, 11, 22, 6, tzinfo=UTC)
    assert [to_iso(t) for t in schedule.fire_times_between(start, end)] == [
        "2026-11-21T06:00:00Z",
        "2026-11-22T06:00:00Z",
    ]
