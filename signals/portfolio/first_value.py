"""Time to first value across the book: how long new accounts take, and who waits."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from signals.config import TimeToValueTargets
from signals.model import AccountData, AccountInfo, Snapshot
from signals.portfolio.periods import Kpi, n_accounts, no_kpi
from signals.ttv import time_to_value

_FIRST_VALUE = re.compile(r"^First value: (?:(\d+) days|(not yet|not reached))")


@dataclass(frozen=True, slots=True)
class FirstValue:
    """Days from an account's start to its first value, None while it is still waiting.

    ``start`` is the day counted from when the CRM gives it (go-live, else customer
    since); None when scoring counted from the first contract or first usage.
    """

    account_id: str
    days: int | None
    start: date | None = None


def records_time_to_value(snapshot: Snapshot) -> bool:
    """True when the snapshot's detail holds the time-to-value milestones."""
    return "time_to_value" in snapshot.detail


def first_value_of(snapshot: Snapshot, account: AccountInfo) -> FirstValue | None:
    """The first-value milestone recorded in a snapshot's detail ("time_to_value").

    None when the snapshot records none (the account has no start date or usage yet).
    """
    recorded = snapshot.explained("time_to_value") or []
    for line in recorded:
        found = _FIRST_VALUE.match(str(line))
        if found:
            days = found.group(1)
            start = account.go_live_date or account.customer_since
            return FirstValue(snapshot.account_id, int(days) if days else None, start)
    return None


def first_value_from_data(
    data: AccountData, as_of: date, targets: TimeToValueTargets
) -> FirstValue | None:
    """The first-value milestone computed from an account's history, as scoring finds it."""
    found = time_to_value(data.account, data.metrics, data.contracts, as_of, targets)
    if found.first_value is None:
        return None
    return FirstValue(data.account.id, found.first_value.days, found.start)


@dataclass(frozen=True, slots=True)
class TimeToValueKpis:
    """Median and 75th percentile of days to first value, and the share still waiting."""

    median: Kpi
    p75: Kpi
    waiting: Kpi


def time_to_value_kpis(
    first_values: Sequence[FirstValue], *, history_start: date | None
) -> TimeToValueKpis:
    """Days from start (go-live, else customer since, else first contract or first usage,
    as scoring counts it) to first value: usage on 3 days within a week.

    Accounts that started before ``history_start`` (the first day of stored usage) are
    left out: their days would count the time before usage was tracked, not onboarding.
    Median and p75 (nearest rank) are over the accounts that reached first value; those
    still waiting are not in them, and their share is the third figure.
    """
    counted = [fv for fv in first_values if _tracked(fv, history_start)]
    early = len(first_values) - len(counted)
    note = f" {n_accounts(early)} that started before usage was tracked left out." if early else ""
    reached = sorted(fv.days for fv in counted if fv.days is not None)
    total, waiting = len(counted), len(counted) - len(reached)
    if not total:
        reason = (
            "No account started since usage was tracked."
            if early
            else ("No account has a start date or usage to count time to value from.")
        )
        return _no_ttv(reason + note, None)
    waits = Kpi(
        "Waiting for first value",
        waiting / total,
        total,
        f"{waiting} of {n_accounts(total)} have not reached first value yet.{note}",
    )
    if not reached:
        return _no_ttv(f"None of the {n_accounts(total)} has reached first value yet.", waits)
    n = len(reached)
    how = f"over the {n_accounts(n)} that reached first value ({waiting} still waiting).{note}"
    return TimeToValueKpis(
        Kpi(
            "Median time to value",
            float(statistics.median(reached)),
            n,
            f"Median days from start to first value {how}",
            "days",
        ),
        Kpi(
            "Time to value, p75",
            float(reached[math.ceil(0.75 * n) - 1]),
            n,
            f"75th percentile (nearest rank) of days to first value {how}",
            "days",
        ),
        waits,
    )


def _tracked(fv: FirstValue, history_start: date | None) -> bool:
    return fv.start is None or (history_start is not None and fv.start >= history_start)


def _no_ttv(reason: str, waits: Kpi | None) -> TimeToValueKpis:
    return TimeToValueKpis(
        no_kpi("Median time to value", reason, "days"),
        no_kpi("Time to value, p75", reason, "days"),
        waits or no_kpi("Waiting for first value", reason),
    )
