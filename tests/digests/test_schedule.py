"""When digests are due and quiet hours end, in local time, across DST changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from digests.schedule import due_period, next_due, quiet_until
from storage.subscriptions import Sub

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUB = Sub(
    id=1,
    platform="slack",
    channel="C1",
    kind="digest",
    scope="all",
    scope_value=None,
    owner_handles=(),
    at_time="08:30",
    timezone="Europe/Paris",
    weekdays_only=False,
    quiet_start=None,
    quiet_end=None,
    created_by="U1",
    created_at=T0,
    updated_at=T0,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def first_due(sub: Sub, start: datetime, hours: int = 36) -> datetime | None:
    """Walk a clock minute by minute (no sleeping) to the first minute a digest is due."""
    for minute in range(hours * 60):
        now = start + timedelta(minutes=minute)
        if due_period(sub, now) is not None:
            return now
    return None


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-03-28", "2026-03-28T07:30"),  # Saturday, still winter time (UTC+1)
        ("2026-03-29", "2026-03-29T06:30"),  # clocks went forward at 02:00 (UTC+2)
        ("2026-10-24", "2026-10-24T06:30"),  # last day of summer time
        ("2026-10-25", "2026-10-25T07:30"),  # clocks went back at 03:00
    ],
)
def test_the_digest_is_due_at_0830_paris_on_both_sides_of_a_dst_change(
    day: str, expected: str
) -> None:
    assert first_due(SUB, utc(f"{day}T00:00")) == utc(expected)


def test_due_means_due_once_per_local_day_for_the_grace_window() -> None:
    due = utc("2026-03-29T06:30")
    assert due_period(SUB, due - timedelta(minutes=1)) is None
    assert due_period(SUB, due) == "2026-03-29"
    assert due_period(SUB, due + timedelta(hours=5, minutes=59)) == "2026-03-29"
    assert due_period(SUB, due + timedelta(hours=6)) is None


def test_a_local_time_that_dst_skips_moves_forward_by_the_gap() -> None:
    night = replace(SUB, at_time="02:30")  # 02:00-03:00 does not exist in Paris on 29 March
    assert first_due(night, utc("2026-03-28T23:00")) == utc("2026-03-29T01:30")  # 03:30 local


def test_a_local_time_that_happens_twice_is_due_at_its_first_occurrence() -> None:
    night = replace(SUB, at_time="02:30")  # 02:30 happens twice in Paris on 25 October
    assert first_due(night, utc("2026-10-24T22:00")) == utc("2026-10-25T00:30")  # 02:30 CEST


def test_new_york_changes_on_another_weekend() -> None:
    ny = replace(SUB, timezone="America/New_York", at_time="09:00")
    assert first_due(ny, utc("2026-03-07T00:00")) == utc("2026-03-07T14:00")  # EST
    assert first_due(ny, utc("2026-03-08T00:00")) == utc("2026-03-08T13:00")  # EDT


def test_weekdays_only_skips_saturday_and_sunday_in_local_time() -> None:
    weekdays = replace(SUB, weekdays_only=True, timezone="Pacific/Auckland", at_time="08:00")
    # Friday 2026-11-20 19:00 UTC is Saturday 08:00 in Auckland: skipped
    assert due_period(weekdays, utc("2026-11-20T19:00")) is None
    assert due_period(weekdays, utc("2026-11-22T19:00")) == "2026-11-23"  # Monday there
    assert next_due(weekdays, utc("2026-11-20T12:00")) == utc("2026-11-22T19:00")


def test_quiet_hours_across_midnight_hold_messages_until_they_end() -> None:
    quiet = replace(SUB, quiet_start="20:00", quiet_end="08:00")
    evening = utc("2026-11-23T20:30")  # 21:30 in Paris
    assert quiet_until(quiet, evening) == utc("2026-11-24T07:00")  # 08:00 in Paris
    early = utc("2026-11-24T05:00")  # 06:00 in Paris
    assert quiet_until(quiet, early) == utc("2026-11-24T07:00")
    afternoon = utc("2026-11-24T13:00")
    assert quiet_until(quiet, afternoon) == afternoon


def test_quiet_hours_within_a_day_and_no_quiet_hours() -> None:
    lunch = replace(SUB, quiet_start="12:00", quiet_end="14:00")
    assert quiet_until(lunch, utc("2026-11-24T11:30")) == utc("2026-11-24T13:00")
    assert quiet_until(lunch, utc("2026-11-24T13:30")) == utc("2026-11-24T13:30")
    assert quiet_until(SUB, utc("2026-11-24T23:00")) == utc("2026-11-24T23:00")
