"""Portfolio KPIs for the manager digest: retention, expansion, churn, time to value, movers.

Pure functions over plain records (``storage.portfolio`` gathers them). Every KPI says how
it was computed and over how many accounts; when the data cannot support a figure, its
value is None and its explanation says why, rather than showing a misleading number.

Revenue is consumption revenue: an account's usage in a period valued at its contract's
unit prices (the contract in force at the end of that period, else the latest priced one).
An account none of whose contracts prices anything is valued at its ARR instead, prorated
to the period, for the periods in which it had usage and had not churned: it can be kept
or lost, never grow or shrink. Accounts with neither prices nor ARR are left out of the
revenue KPIs, and the explanations say how many.

The periods all end on the scoring day (see :func:`periods_for`): the current quarter is
its last 90 days, the prior quarter the 90 days before, the year-ago quarter the current
one shifted back 365 days.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from signals.commit import contract_in_force
from signals.config import TimeToValueTargets
from signals.model import AccountData, AccountInfo, ContractTerms, Snapshot
from signals.tiers import ORDER as TIER_ORDER
from signals.ttv import time_to_value

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
_FIRST_VALUE = re.compile(r"^First value: (?:(\d+) days|(not yet|not reached))")


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


def _none(name: str, reason: str, unit: Unit = "share") -> Kpi:
    return Kpi(name, None, 0, reason, unit)


def _money(amount: float) -> str:
    return f"{amount:,.0f}"


def _accounts(n: int) -> str:
    return f"{n} account{'' if n == 1 else 's'}"


def revenue_basis(usage: AccountUsage, day: date) -> Literal["spend", "arr"] | None:
    """How an account's revenue is valued: 'spend' when a contract started by ``day``
    prices a metric, 'arr' when it has a positive ARR instead, else None."""
    if _priced(usage.contracts, day):
        return "spend"
    if usage.account.arr is not None and usage.account.arr > 0:
        return "arr"
    return None


def _priced(contracts: Sequence[ContractTerms], day: date) -> list[ContractTerms]:
    return [c for c in contracts if c.start <= day and any(p > 0 for p in c.unit_prices.values())]


def revenue(usage: AccountUsage, periods: Periods, name: str) -> float | None:
    """The account's revenue in a named period (None when it cannot be valued).

    'spend' accounts: each metric's quantity times its unit price on the priced contract
    in force at the end of the period (the latest priced one when none had started by
    then). 'arr' accounts: ARR x days / 365 when the account had usage in the period and
    had not churned before it began, else 0.
    """
    period = periods.named()[name]
    basis = revenue_basis(usage, periods.day)
    if basis == "spend":
        priced = _priced(usage.contracts, periods.day)
        contract = contract_in_force(priced, period.last) or contract_in_force(priced, periods.day)
        prices = contract.unit_prices if contract else {}
        used = usage.quantity.get(name, {})
        return float(sum(prices.get(metric, 0.0) * q for metric, q in used.items()))
    if basis == "arr" and usage.account.arr is not None:
        churned = usage.account.churned_date
        gone = churned is not None and churned < period.first
        active = usage.events_in(name) > 0 and not gone
        return usage.account.arr * period.days / YEAR_DAYS if active else 0.0
    return None


@dataclass(frozen=True, slots=True)
class _Pair:
    """An account's revenue in a base period and in the current quarter."""

    before: float
    after: float
    basis: str


def _pairs(usages: Sequence[AccountUsage], periods: Periods, base: str) -> list[_Pair]:
    """Accounts with revenue in the base period, with their current revenue."""
    out = []
    for u in usages:
        basis = revenue_basis(u, periods.day)
        before = revenue(u, periods, base)
        after = revenue(u, periods, CURRENT)
        if basis is not None and before is not None and after is not None and before > 0:
            out.append(_Pair(before, after, basis))
    return out


def _valuation(pairs: Sequence[_Pair], left_out: int) -> str:
    by_arr = sum(1 for p in pairs if p.basis == "arr")
    text = f"{len(pairs) - by_arr} valued at usage x unit prices, {by_arr} at ARR (kept or lost)"
    if left_out:
        text += f"; {_accounts(left_out)} with neither prices nor ARR left out"
    return text + "."


def _covers(history_start: date | None, period: Period) -> bool:
    return history_start is not None and history_start <= period.first


def _short_history(history_start: date | None, period: Period) -> str:
    if history_start is None:
        return "No usage is stored yet."
    return f"Usage is stored from {history_start}; this needs it from {period.first}."


def net_revenue_retention(
    usages: Sequence[AccountUsage], periods: Periods, *, history_start: date | None
) -> Kpi:
    """Net revenue retention: current-quarter revenue over base-period revenue.

    The base is the same quarter a year earlier when usage history reaches back to its
    start (``history_start``: the first day of stored usage) and some account had revenue
    then; otherwise the prior quarter. Only accounts with revenue in the base
    period count, with whatever they bring now (0 when lost): sum now / sum then.
    """
    name = "Net revenue retention"
    left_out = sum(1 for u in usages if revenue_basis(u, periods.day) is None)
    for base, period, basis in (
        (YEAR_AGO, periods.year_ago, "year over year"),
        (PRIOR_QUARTER, periods.prior_quarter, "quarter over quarter"),
    ):
        if not _covers(history_start, period):
            continue
        pairs = _pairs(usages, periods, base)
        if not pairs:
            continue
        before = sum(p.before for p in pairs)
        after = sum(p.after for p in pairs)
        explanation = (
            f"{basis.capitalize()}: revenue in {periods.current} of the {_accounts(len(pairs))} "
            f"with revenue in {period}, over their revenue then "
            f"({_money(after)} / {_money(before)}); {_valuation(pairs, left_out)}"
        )
        return Kpi(name, after / before, len(pairs), explanation, basis=basis)
    if not _covers(history_start, periods.prior_quarter):
        return _none(name, _short_history(history_start, periods.prior_quarter))
    return _none(name, f"No account had revenue in {periods.prior_quarter} or a year earlier.")


@dataclass(frozen=True, slots=True)
class RevenueMovement:
    """Quarter over quarter: the shares of accounts whose revenue grew and shrank."""

    expansion: Kpi
    contraction: Kpi
    lost: int  # of the contracted, those whose revenue fell to zero


def revenue_movement(
    usages: Sequence[AccountUsage], periods: Periods, *, history_start: date | None
) -> RevenueMovement:
    """Expansion and contraction rates, quarter over quarter.

    Of the accounts with revenue in the prior quarter: expansion is the share whose
    current-quarter revenue is more than 10% higher, contraction the share more than 10%
    lower (those down to zero, 'lost', included). ARR-valued accounts can only be flat or
    lost. Needs usage history back to the start of the prior quarter.
    """
    if not _covers(history_start, periods.prior_quarter):
        reason = _short_history(history_start, periods.prior_quarter)
        return RevenueMovement(
            _none("Expansion rate", reason), _none("Contraction rate", reason), 0
        )
    pairs = _pairs(usages, periods, PRIOR_QUARTER)
    if not pairs:
        reason = f"No account had revenue in {periods.prior_quarter}."
        return RevenueMovement(
            _none("Expansion rate", reason), _none("Contraction rate", reason), 0
        )
    left_out = sum(1 for u in usages if revenue_basis(u, periods.day) is None)
    grew = sum(1 for p in pairs if p.after > p.before * (1 + GROWTH))
    shrank = sum(1 for p in pairs if p.after < p.before * (1 - GROWTH))
    lost = sum(1 for p in pairs if p.after <= 0)
    n = len(pairs)
    base = (
        f"of the {_accounts(n)} with revenue in {periods.prior_quarter}, against "
        f"{periods.current}; {_valuation(pairs, left_out)}"
    )
    return RevenueMovement(
        expansion=Kpi("Expansion rate", grew / n, n, f"{grew} grew revenue over 10% {base}"),
        contraction=Kpi(
            "Contraction rate",
            shrank / n,
            n,
            f"{shrank} shrank over 10% ({lost} to zero) {base}",
        ),
        lost=lost,
    )


@dataclass(frozen=True, slots=True)
class Cohort:
    """One usage quartile: its accounts' event range at the start, and how many churned."""

    quartile: int  # 1 is the lowest usage
    low: float
    high: float
    accounts: int
    churned: int

    @property
    def rate(self) -> float:
        """Share of the cohort that churned."""
        return self.churned / self.accounts

    def label(self) -> str:
        """'Q1 (lowest, 3-40 events)'."""
        tag = {1: "lowest, ", QUARTILES: "highest, "}.get(self.quartile, "")
        return f"Q{self.quartile} ({tag}{self.low:,.0f}-{self.high:,.0f} events)"


@dataclass(frozen=True, slots=True)
class CohortChurn:
    """Churn over the current quarter, overall and by usage quartile at its start.

    ``cohorts`` is empty when there are too few accounts to split; ``explanation`` says
    how the cohorts were formed, or why they were not.
    """

    overall: Kpi
    cohorts: tuple[Cohort, ...]
    explanation: str


def churned(usage: AccountUsage, periods: Periods, fraction: float = MEANINGFUL_FRACTION) -> bool:
    """Churned within the current quarter.

    Either the CRM's churned_date falls inside the quarter, or the account had no
    meaningful usage in the last 28 days: fewer events than ``fraction`` of its events in
    the 28 days before the quarter (and at least one).
    """
    gone = usage.account.churned_date
    if gone is not None and periods.current.first <= gone <= periods.current.last:
        return True
    threshold = max(1.0, fraction * usage.events_in(COHORT_BASE))
    return usage.events_in(RECENT) < threshold


def churn_by_cohort(
    usages: Sequence[AccountUsage],
    periods: Periods,
    *,
    history_start: date | None,
    meaningful_fraction: float = MEANINGFUL_FRACTION,
) -> CohortChurn:
    """Logo churn over the current quarter, overall and by usage cohort.

    The population: accounts with usage events in the 28 days before the quarter that
    had not churned (CRM) before it began. Cohorts are the quartiles of those 28 days'
    event counts (by rank, ties by account id; Q1 the lowest); each needs at least
    MIN_PER_COHORT accounts. Churn as :func:`churned` defines it.
    """
    name = "Churn rate"
    if not _covers(history_start, periods.cohort_base):
        reason = _short_history(history_start, periods.cohort_base)
        return CohortChurn(_none(name, reason), (), reason)
    start = periods.current.first
    population = sorted(
        (
            u
            for u in usages
            if u.events_in(COHORT_BASE) > 0
            and (u.account.churned_date is None or u.account.churned_date >= start)
        ),
        key=lambda u: (u.events_in(COHORT_BASE), u.account.id),
    )
    if not population:
        reason = f"No account had usage in {periods.cohort_base}, before the quarter began."
        return CohortChurn(_none(name, reason), (), reason)
    flags = [churned(u, periods, meaningful_fraction) for u in population]
    n, lost = len(population), sum(flags)
    overall = Kpi(
        name,
        lost / n,
        n,
        f"{lost} of the {_accounts(n)} active in {periods.cohort_base} churned in "
        f"{periods.current}: CRM churn date in it, or under {meaningful_fraction:.0%} of "
        f"their earlier usage events in the last {RECENT_DAYS} days.",
    )
    if n < QUARTILES * MIN_PER_COHORT:
        reason = (
            f"{_accounts(n)} are too few to split into usage quartiles "
            f"(at least {QUARTILES * MIN_PER_COHORT} needed)."
        )
        return CohortChurn(overall, (), reason)
    cohorts = tuple(_cohort(q, population, flags) for q in range(QUARTILES))
    explanation = (
        f"Quartiles of usage events in {periods.cohort_base} over the {_accounts(n)} active "
        f"then; churn in {periods.current} as for the churn rate."
    )
    return CohortChurn(overall, cohorts, explanation)


def _cohort(q: int, population: Sequence[AccountUsage], flags: Sequence[bool]) -> Cohort:
    n = len(population)
    members = range(q * n // QUARTILES, (q + 1) * n // QUARTILES)
    volumes = [population[i].events_in(COHORT_BASE) for i in members]
    return Cohort(
        quartile=q + 1,
        low=min(volumes),
        high=max(volumes),
        accounts=len(members),
        churned=sum(1 for i in members if flags[i]),
    )


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
    note = f" {_accounts(early)} that started before usage was tracked left out." if early else ""
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
        f"{waiting} of {_accounts(total)} have not reached first value yet.{note}",
    )
    if not reached:
        return _no_ttv(f"None of the {_accounts(total)} has reached first value yet.", waits)
    n = len(reached)
    how = f"over the {_accounts(n)} that reached first value ({waiting} still waiting).{note}"
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
        _none("Median time to value", reason, "days"),
        _none("Time to value, p75", reason, "days"),
        waits or _none("Waiting for first value", reason),
    )


def counts_by_tier(snapshots: Collection[Snapshot]) -> dict[str, int]:
    """Accounts per tier, strategic first (tiers with no account included as 0)."""
    return _ordered(Counter(s.tier for s in snapshots), tuple(reversed(TIER_ORDER)))


def counts_by_band(snapshots: Collection[Snapshot]) -> dict[str, int]:
    """Accounts per health band, healthy first (bands with no account included as 0)."""
    return _ordered(Counter(s.band for s in snapshots), BANDS)


def _ordered(counts: Counter[str], order: Sequence[str]) -> dict[str, int]:
    out = {key: counts.get(key, 0) for key in order}
    out.update((key, n) for key, n in sorted(counts.items()) if key not in out)
    return out


@dataclass(frozen=True, slots=True)
class Move:
    """One account's health change over the week, with what moved it."""

    account_id: str
    before: float
    after: float
    why: str | None

    @property
    def change(self) -> float:
        """Points gained (negative: lost)."""
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class WeekMovers:
    """The largest health rises and falls between two days' snapshots a week apart.

    ``up`` is the largest rise first, ``down`` the largest fall first. ``compared`` is how
    many accounts were scored on both days; ``explanation`` says how, or why none.
    """

    up: tuple[Move, ...]
    down: tuple[Move, ...]
    compared: int
    explanation: str

    @property
    def available(self) -> bool:
        """True when any account could be compared."""
        return self.compared > 0


def week_movers(
    today: Mapping[str, Snapshot],
    week_ago: Mapping[str, Snapshot],
    *,
    n: int = MOVERS,
    minimum: float = MIN_MOVE,
) -> WeekMovers:
    """The ``n`` largest rises and falls of the health score over the week.

    Only accounts scored on both days count, and only changes of at least ``minimum``
    points; ties go by account id. ``why`` is the first of the snapshot's recorded
    movers (detail "movers": the components that moved the score), when present.
    """
    both = sorted(set(today) & set(week_ago))
    if not both:
        return WeekMovers((), (), 0, "No account was scored both today and a week earlier.")
    moves = [_move(today[a], week_ago[a]) for a in both]
    up = sorted((m for m in moves if m.change >= minimum), key=lambda m: (-m.change, m.account_id))
    down = sorted(
        (m for m in moves if m.change <= -minimum), key=lambda m: (m.change, m.account_id)
    )
    explanation = (
        f"Health score changes over 7 days of the {_accounts(len(both))} scored on both days: "
        f"{len(up)} rose and {len(down)} fell by {minimum:.0f} point{'' if minimum == 1 else 's'} "
        "or more."
    )
    return WeekMovers(tuple(up[:n]), tuple(down[:n]), len(both), explanation)


def _move(now: Snapshot, before: Snapshot) -> Move:
    recorded = now.explained("movers") or []
    why = str(recorded[0]) if recorded else None
    return Move(now.account_id, before.score, now.score, why)
