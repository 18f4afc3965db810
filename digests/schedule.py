"""When a channel's digest is due and when its quiet hours end: local time, pure functions.

Times are compared as aware datetimes, so a digest "at 08:30 Europe/Paris" is due at
07:30 UTC in winter and 06:30 UTC in summer, and a local time that a DST change skips
(02:30 on the spring-forward night) moves forward by the gap, to 03:30.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.subscriptions import Sub

GRACE = timedelta(hours=6)  # a worker down at 08:30 still sends the morning digest until 14:30


def local_time(text: str) -> time:
    """``"08:30"`` as a time."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def zone(sub: Sub) -> ZoneInfo:
    """The subscription's time zone."""
    return ZoneInfo(sub.timezone)


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The UTC instant a local wall-clock time happens on a day.

    A time that DST skips moves forward by the gap (02:30 becomes 03:30); a repeated
    one happens at its first occurrence. (Aware datetimes that share a tzinfo compare
    by wall clock in Python, so everything here is compared in UTC.)
    """
    return datetime.combine(day, clock).replace(tzinfo=tz).astimezone(UTC)


def due_period(sub: Sub, now: datetime, *, grace: timedelta = GRACE) -> str | None:
    """The local date whose digest is due now (None when none is): from its time, for ``grace``.

    Weekends are skipped when the subscription asks for weekdays only.
    """
    tz = zone(sub)
    day = now.astimezone(tz).date()
    if sub.weekdays_only and day.weekday() >= 5:
        return None
    start = at_local(day, local_time(sub.at_time), tz)
    if start <= now.astimezone(UTC) < start + grace:
        return day.isoformat()
    return None


def next_due(sub: Sub, now: datetime) -> datetime:
    """When the next digest of this subscription is due (for `steward subscriptions`)."""
    tz = zone(sub)
    day = now.astimezone(tz).date()
    for offset in range(8):
        candidate = day + timedelta(days=offset)
        if sub.weekdays_only and candidate.weekday() >= 5:
            continue
        start = at_local(candidate, local_time(sub.at_time), tz)
        if start > now:
            return start
    raise AssertionError("a weekday falls within any eight days")


def quiet_until(sub: Sub, now: datetime) -> datetime:
    """``now``, or the end of the channel's quiet hours when ``now`` falls within them."""
    if not (sub.quiet_start and sub.quiet_end):
        return now
    tz = zone(sub)
    local_now = now.astimezone(tz)
    start, end = local_time(sub.quiet_start), local_time(sub.quiet_end)
    clock = local_now.time().replace(tzinfo=None)
    day = local_now.date()
    if start <= end:  # e.g. 12:00-14:00
        inside = start <= clock < end
        ends = at_local(day, end, tz)
    else:  # across midnight, e.g. 20:00-08:00
        inside = clock >= start or clock < end
        ends = at_local(day + timedelta(days=1) if clock >= start else day, end, tz)
    return ends if inside else now
