"""The periods every portfolio KPI ends on, the per-account records, and the KPI type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from signals.model import AccountInfo, ContractTerms

QUARTER_DAYS = 90
YEAR_DAYS = 365
COHORT_BASE_DAYS = 28  # usage volume that sorts accounts into cohorts: the 28 days before
RECENT_DAYS = 28  # "no meaningful usage in the last 28 days"
GROWTH = 0.10  # revenue more than 10% up is expansion, more than 10% down contraction
MEANINGFUL_FRACTION = 0.1  # of the cohort-base events, for "meaningful usage" lately
QUARTILES = 4
MIN_PER_COHORT = 2  # accounts each usage quartile needs for a churn rate by cohort
MIN_MOVE = 1.0  # health points in a week that make a mover
MOVERS = 5
BANDS = ("healthy", "watch", "at risk")

CURRENT = "current"
PRIOR_QUARTER = "prior_quarter"
YEAR_AGO = "year_ago"
COHORT_BASE = "cohort_base"
RECENT = "recent"

Unit = Literal["share", "days"]


@dataclass(frozen=True, slots=True)
class Period:
    """Consecutive days, both ends inclusive."""

    first: date
    last: date

    @property
    def days(self) -> int:
        """How many days the period holds."""
        return (self.last - self.first).days + 1

    def __str__(self) -> str:
        return f"{self.first} to {self.last}"


@dataclass(frozen=True, slots=True)
class Periods:
    """The periods the portfolio KPIs compare, all relative to the scoring day."""

    day: date
    current: Period
    prior_quarter: Period
    year_ago: Period
    cohort_base: Period
    recent: Period

    def named(self) -> dict[str, Period]:
        """Every period by the name :class:`AccountUsage` keys its totals with."""
        return {
            CURRENT: self.current,
            PRIOR_QUARTER: self.prior_quarter,
            YEAR_AGO: self.year_ago,
            COHORT_BASE: self.cohort_base,
            RECENT: self.recent,
        }


def periods_for(day: date) -> Periods:
    """The periods of the KPIs that end on ``day``.

    current: the 90 days ending on ``day``; prior_quarter: the 90 days before those;
    year_ago: the current quarter 365 days earlier; cohort_base: the 28 days before the
    current quarter (usage volume for the cohorts); recent: the last 28 days.
    """
    current = _ending(day, QUARTER_DAYS)
    before = current.first - timedelta(days=1)
    return Periods(
        day=day,
        current=current,
        prior_quarter=_ending(before, QUARTER_DAYS),
        year_ago=_ending(day - timedelta(days=YEAR_DAYS), QUARTER_DAYS),
        cohort_base=_ending(before, COHORT_BASE_DAYS),
        recent=_ending(day, RECENT_DAYS),
    )


def _ending(last: date, days: int) -> Period:
    return Period(last - timedelta(days=days - 1), last)


@dataclass(frozen=True, slots=True)
class AccountUsage:
    """One account with its contracts and its usage totals per named period.

    ``quantity`` maps a period's name to {metric: quantity used in it}; ``events`` a
    period's name to the number of usage events in it (all metrics). Periods without
    usage may be absent.
    """

    account: AccountInfo
    contracts: tuple[ContractTerms, ...] = ()
    quantity: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    events: Mapping[str, float] = field(default_factory=dict)

    def events_in(self, period: str) -> float:
        """Usage events in a named period (0 when none)."""
        return float(self.events.get(period, 0.0))


@dataclass(frozen=True, slots=True)
class Kpi:
    """One portfolio figure with how it was computed, or why there is none.

    ``value`` is a share (1.04 for 104%) or a number of days, by ``unit``; None when the
    data cannot support the figure, and then ``explanation`` gives the reason.
    """

    name: str
    value: float | None
    accounts: int  # how many accounts the figure is computed over
    explanation: str
    unit: Unit = "share"
    basis: str | None = None  # e.g. "year over year"

    @property
    def available(self) -> bool:
        """True when there is a figure."""
        return self.value is not None

    def text(self) -> str:
        """The figure for a message: '104%', '12 days', or 'n/a'."""
        if self.value is None:
            return "n/a"
        if self.unit == "days":
            return f"{self.value:.0f} days"
        return f"{self.value:.0%}"


def no_kpi(name: str, reason: str, unit: Unit = "share") -> Kpi:
    """Return a KPI with no figure, explained by ``reason``."""
    return Kpi(name, None, 0, reason, unit)


def money(amount: float) -> str:
    """Format an amount of money without decimals: '12,345'."""
    return f"{amount:,.0f}"


def n_accounts(n: int) -> str:
    """Say how many accounts: '1 account', '3 accounts'."""
    return f"{n} account{'' if n == 1 else 's'}"


def covers(history_start: date | None, period: Period) -> bool:
    """Return whether stored usage reaches back to the period's first day."""
    return history_start is not None and history_start <= period.first


def short_history(history_start: date | None, period: Period) -> str:
    """Explain why stored usage does not cover the period."""
    if history_start is None:
        return "No usage is stored yet."
    return f"Usage is stored from {history_start}; this needs it from {period.first}."
