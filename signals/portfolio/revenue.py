"""Net revenue retention and revenue movement (expansion, contraction, churn) by quarter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from signals.commit import contract_in_force
from signals.model import ContractTerms
from signals.portfolio.periods import (
    CURRENT,
    GROWTH,
    PRIOR_QUARTER,
    YEAR_AGO,
    YEAR_DAYS,
    AccountUsage,
    Kpi,
    Periods,
    covers,
    money,
    n_accounts,
    no_kpi,
    short_history,
)


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
        text += f"; {n_accounts(left_out)} with neither prices nor ARR left out"
    return text + "."


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
        if not covers(history_start, period):
            continue
        pairs = _pairs(usages, periods, base)
        if not pairs:
            continue
        before = sum(p.before for p in pairs)
        after = sum(p.after for p in pairs)
        explanation = (
            f"{basis.capitalize()}: revenue in {periods.current} of the {n_accounts(len(pairs))} "
            f"with revenue in {period}, over their revenue then "
            f"({money(after)} / {money(before)}); {_valuation(pairs, left_out)}"
        )
        return Kpi(name, after / before, len(pairs), explanation, basis=basis)
    if not covers(history_start, periods.prior_quarter):
        return no_kpi(name, short_history(history_start, periods.prior_quarter))
    return no_kpi(name, f"No account had revenue in {periods.prior_quarter} or a year earlier.")


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
    if not covers(history_start, periods.prior_quarter):
        reason = short_history(history_start, periods.prior_quarter)
        return RevenueMovement(
            no_kpi("Expansion rate", reason), no_kpi("Contraction rate", reason), 0
        )
    pairs = _pairs(usages, periods, PRIOR_QUARTER)
    if not pairs:
        reason = f"No account had revenue in {periods.prior_quarter}."
        return RevenueMovement(
            no_kpi("Expansion rate", reason), no_kpi("Contraction rate", reason), 0
        )
    left_out = sum(1 for u in usages if revenue_basis(u, periods.day) is None)
    grew = sum(1 for p in pairs if p.after > p.before * (1 + GROWTH))
    shrank = sum(1 for p in pairs if p.after < p.before * (1 - GROWTH))
    lost = sum(1 for p in pairs if p.after <= 0)
    n = len(pairs)
    base = (
        f"of the {n_accounts(n)} with revenue in {periods.prior_quarter}, against "
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
