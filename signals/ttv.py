"""Time to value: how long an account took to use, reach its target, and grow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from signals.commit import contract_in_force
from signals.config import TimeToValueTargets
from signals.model import AccountInfo, ContractTerms, MetricSeries
from signals.series import dense

SUSTAINED_DAYS = 3  # active days within a week that make "first value"
EXPANSION_GROWTH = 1.5  # a 28-day total this far above the first month is an expansion signal


@dataclass(frozen=True, slots=True)
class Milestone:
    """One time-to-value milestone against its target."""

    name: str
    reached: date | None
    days: int | None  # from the start, when reached
    target_days: int
    elapsed_days: int  # from the start to as_of

    @property
    def missed(self) -> bool:
        """Reached later than the target, or not reached and the target has passed."""
        if self.days is not None:
            return self.days > self.target_days
        return self.elapsed_days > self.target_days

    def explain(self) -> str:
        """The milestone in words."""
        if self.days is not None:
            verdict = "late" if self.missed else "on time"
            return f"{self.name}: {self.days} days (target {self.target_days}, {verdict})."
        if self.missed:
            return (
                f"{self.name}: not reached after {self.elapsed_days} days "
                f"(target {self.target_days})."
            )
        return f"{self.name}: not yet ({self.elapsed_days} of {self.target_days} days)."


@dataclass(frozen=True, slots=True)
class TimeToValue:
    """Milestones counted from go-live, else customer-since, first contract or first use."""

    start: date | None
    first_value: Milestone | None
    target_consumption: Milestone | None
    first_expansion: Milestone | None

    @property
    def milestones(self) -> tuple[Milestone, ...]:
        """The milestones that apply."""
        found = (self.first_value, self.target_consumption, self.first_expansion)
        return tuple(m for m in found if m is not None)


def time_to_value(
    account: AccountInfo,
    metrics: Sequence[MetricSeries],
    contracts: Sequence[ContractTerms],
    as_of: date,
    targets: TimeToValueTargets,
) -> TimeToValue:
    """Find the milestones reached on or before as_of."""
    start = _start(account, metrics, contracts, as_of)
    if start is None or start > as_of:
        return TimeToValue(start, None, None, None)
    elapsed = (as_of - start).days
    daily = _daily_events(metrics, start, as_of)
    first = _first_sustained(daily, start)
    first_value = _milestone("First value", start, first, targets.first_value_days, elapsed)
    target = _target_consumption(metrics, contracts, start, as_of, targets)
    consumption = None
    if contract_in_force(contracts, as_of) is not None:
        consumption = _milestone(
            "Target consumption", start, target, targets.target_consumption_days, elapsed
        )
    growth = _first_growth(daily[(first - start).days :], first) if first else None
    expansion = _milestone(
        "First expansion signal", start, growth, targets.first_expansion_days, elapsed
    )
    return TimeToValue(start, first_value, consumption, expansion)


def _milestone(
    name: str, start: date, reached: date | None, target: int, elapsed: int
) -> Milestone:
    days = (reached - start).days if reached else None
    return Milestone(name, reached, days, target, elapsed)


def _start(
    account: AccountInfo,
    metrics: Sequence[MetricSeries],
    contracts: Sequence[ContractTerms],
    as_of: date,
) -> date | None:
    if account.go_live_date:
        return account.go_live_date
    if account.customer_since:
        return account.customer_since
    starts = [c.start for c in contracts if c.start <= as_of]
    starts += [m.days[0] for m in metrics if m.days and m.days[0] <= as_of]
    return min(starts) if starts else None


def _daily_events(metrics: Sequence[MetricSeries], start: date, as_of: date) -> list[float]:
    totals = [0.0] * ((as_of - start).days + 1)
    for m in metrics:
        for i, events in enumerate(dense(m.days, m.events, start, as_of)):
            totals[i] += events
    return totals


def _first_sustained(daily: Sequence[float], start: date) -> date | None:
    """The day the account first had usage on 3 days within a week."""
    active = 0
    for i, events in enumerate(daily):
        active += events > 0
        if i >= 7:
            active -= daily[i - 7] > 0
        if events > 0 and active >= SUSTAINED_DAYS:
            return start + timedelta(days=i)
    return None


def _target_consumption(
    metrics: Sequence[MetricSeries],
    contracts: Sequence[ContractTerms],
    start: date,
    as_of: date,
    targets: TimeToValueTargets,
) -> date | None:
    """The first day the 7-day spend reached the target share of the commit's even pace."""
    contract = contract_in_force(contracts, as_of)
    if contract is None or contract.committed_amount <= 0:
        return None
    term = (contract.end - contract.start).days + 1
    weekly_target = 7 * targets.target_consumption_fraction * contract.committed_amount / term
    first = max(start, contract.start)
    daily = [0.0] * ((as_of - first).days + 1) if as_of >= first else []
    for m in metrics:
        price = contract.unit_prices.get(m.metric, 0.0)
        if price > 0:
            for i, q in enumerate(dense(m.days, m.quantity, first, as_of)):
                daily[i] += q * price
    running = 0.0
    for i, spent in enumerate(daily):
        running += spent - (daily[i - 7] if i >= 7 else 0.0)
        if running >= weekly_target * (1 - 1e-9) and weekly_target > 0:  # float drift
            return first + timedelta(days=i)
    return None


def _first_growth(totals: Sequence[float], first: date) -> date | None:
    """The first day the trailing 28 days reached 1.5x the 28 days after first value."""
    if len(totals) <= 28:
        return None
    base = sum(totals[:28])
    if base <= 0:
        return None
    running = base
    for i in range(28, len(totals)):
        running += totals[i] - totals[i - 28]
        if running >= EXPANSION_GROWTH * base:
            return first + timedelta(days=i)
    return None
