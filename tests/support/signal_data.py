"""Build the plain records of signals/model.py compactly, for the signals tests.

A metric series comes from a dict of day -> quantity, or from a rate function over
a range of days; days with no usage (quantity 0 or None) are left out, as storage
leaves them out. Events default to the quantity, rounded, at least 1 on an active day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

from signals.model import (
    AccountData,
    AccountInfo,
    ContractTerms,
    DimensionActivity,
    MetricSeries,
    Ticket,
)

Rate = Callable[[date], float | None]


def d(text: str) -> date:
    """A date from ISO text: d("2026-03-01")."""
    return date.fromisoformat(text)


def days(first: date, last: date) -> list[date]:
    """Every day first..last (inclusive)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def usage(rate: Rate, first: date, last: date) -> dict[date, float]:
    """A day -> quantity mapping from a rate function, over first..last."""
    out = {}
    for day in days(first, last):
        q = rate(day)
        if q:
            out[day] = float(q)
    return out


def series(
    metric: str,
    quantities: Mapping[date, float],
    *,
    events: Mapping[date, int] | None = None,
    successes: Mapping[date, int] | None = None,
    failures: Mapping[date, int] | None = None,
) -> MetricSeries:
    """A metric series from day -> quantity (events and outcomes optional, per day)."""
    active = sorted(day for day, q in quantities.items() if q)
    if events is not None:
        active = sorted(set(active) | {day for day, e in events.items() if e})

    def count(day: date) -> int:
        if events is not None:
            return int(events.get(day, 0))
        return max(1, round(quantities.get(day, 0.0)))

    return MetricSeries(
        metric=metric,
        days=tuple(active),
        quantity=tuple(float(quantities.get(day, 0.0)) for day in active),
        events=tuple(count(day) for day in active),
        successes=tuple(int(successes.get(day, 0)) for day in active) if successes else (),
        failures=tuple(int(failures.get(day, 0)) for day in active) if failures else (),
    )


def steady(metric: str, per_day: float, first: date, last: date) -> MetricSeries:
    """The same quantity every day first..last."""
    return series(metric, usage(lambda _: per_day, first, last))


def dimension(kind: str, value: str, active: Iterable[date], per_day: int = 1) -> DimensionActivity:
    """A feature, team or user active on the given days."""
    ordered = tuple(sorted(set(active)))
    return DimensionActivity(kind, value, ordered, tuple(per_day for _ in ordered))


def contract(
    start: date,
    end: date,
    committed: float,
    prices: Mapping[str, float] | None = None,
    *,
    budget: float | None = None,
    id: str = "c1",
) -> ContractTerms:
    """A commit contract, priced per metric."""
    return ContractTerms(
        id=id,
        start=start,
        end=end,
        committed_amount=committed,
        unit_prices=dict(prices or {}),
        monthly_budget=budget,
    )


def ticket(
    id: str,
    opened: date | datetime,
    *,
    priority: str = "normal",
    solved: date | datetime | None = None,
    status: str | None = None,
    csat: int | None = None,
) -> Ticket:
    """A support ticket; a bare date means noon UTC that day."""
    return Ticket(
        id=id,
        status=status or ("solved" if solved else "open"),
        priority=priority,
        opened_at=_moment(opened),
        solved_at=_moment(solved) if solved is not None else None,
        csat=csat,
    )


def _moment(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, 12, tzinfo=UTC)


def account(
    *,
    id: str = "acme",
    metrics: Iterable[MetricSeries] = (),
    contracts: Iterable[ContractTerms] = (),
    dimensions: Iterable[DimensionActivity] = (),
    tickets: Iterable[Ticket] = (),
    segment: str | None = None,
    arr: float | None = None,
    csm: str | None = None,
    ae: str | None = None,
    customer_since: date | None = None,
    go_live_date: date | None = None,
    churned_date: date | None = None,
    renewal_date: date | None = None,
) -> AccountData:
    """An account with its records and CRM details."""
    info = AccountInfo(
        id=id,
        name=id.title(),
        segment=segment,
        arr=arr,
        csm=csm,
        ae=ae,
        customer_since=customer_since,
        go_live_date=go_live_date,
        churned_date=churned_date,
        renewal_date=renewal_date,
    )
    return AccountData(
        account=info,
        metrics=tuple(metrics),
        contracts=tuple(contracts),
        dimensions=tuple(dimensions),
        tickets=tuple(tickets),
    )


def two_level(
    metric: str,
    as_of: date,
    before: float,
    after: float,
    *,
    recent_days: int = 28,
    history_days: int = 84,
) -> MetricSeries:
    """`before` a day for the history up to the recent window, then `after` a day to as_of."""
    first = as_of - timedelta(days=history_days - 1)
    recent_first = as_of - timedelta(days=recent_days - 1)
    return series(metric, usage(lambda day: after if day >= recent_first else before, first, as_of))
