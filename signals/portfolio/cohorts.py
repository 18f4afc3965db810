"""Churn by usage cohort: which usage quartile the lost accounts came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from signals.portfolio.periods import (
    COHORT_BASE,
    MEANINGFUL_FRACTION,
    MIN_PER_COHORT,
    QUARTILES,
    RECENT,
    RECENT_DAYS,
    AccountUsage,
    Kpi,
    Periods,
    covers,
    n_accounts,
    no_kpi,
    short_history,
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
    if not covers(history_start, periods.cohort_base):
        reason = short_history(history_start, periods.cohort_base)
        return CohortChurn(no_kpi(name, reason), (), reason)
    population = _population(usages, periods.current.first)
    if not population:
        reason = f"No account had usage in {periods.cohort_base}, before the quarter began."
        return CohortChurn(no_kpi(name, reason), (), reason)
    flags = [churned(u, periods, meaningful_fraction) for u in population]
    n, lost = len(population), sum(flags)
    overall = Kpi(
        name,
        lost / n,
        n,
        f"{lost} of the {n_accounts(n)} active in {periods.cohort_base} churned in "
        f"{periods.current}: CRM churn date in it, or under {meaningful_fraction:.0%} of "
        f"their earlier usage events in the last {RECENT_DAYS} days.",
    )
    if n < QUARTILES * MIN_PER_COHORT:
        reason = (
            f"{n_accounts(n)} are too few to split into usage quartiles "
            f"(at least {QUARTILES * MIN_PER_COHORT} needed)."
        )
        return CohortChurn(overall, (), reason)
    cohorts = tuple(_cohort(q, population, flags) for q in range(QUARTILES))
    explanation = (
        f"Quartiles of usage events in {periods.cohort_base} over the {n_accounts(n)} active "
        f"then; churn in {periods.current} as for the churn rate."
    )
    return CohortChurn(overall, cohorts, explanation)


def _population(usages: Sequence[AccountUsage], start: date) -> list[AccountUsage]:
    """Accounts with cohort-base usage, not churned before ``start``, by usage then id."""
    return sorted(
        (
            u
            for u in usages
            if u.events_in(COHORT_BASE) > 0
            and (u.account.churned_date is None or u.account.churned_date >= start)
        ),
        key=lambda u: (u.events_in(COHORT_BASE), u.account.id),
    )


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
