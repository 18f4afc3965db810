"""Commit and spend: burndown, exhaustion forecast, month-end projection and bill shock."""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from signals.config import AlertRules
from signals.model import ContractTerms, MetricSeries
from signals.series import days_back, dense, window_sum

MIN_DAYS_FOR_UNDER_USE = 14
BASELINE_MONTH_DAYS = 90


def contract_in_force(contracts: Sequence[ContractTerms], as_of: date) -> ContractTerms | None:
    """The contract covering as_of (the latest started, if several), else the last one ended."""
    started = [c for c in contracts if c.start <= as_of]
    current = [c for c in started if as_of <= c.end]
    if current:
        return max(current, key=lambda c: (c.start, c.id))
    return max(started, key=lambda c: (c.end, c.id)) if started else None


def spend_between(
    metrics: Sequence[MetricSeries], prices: Mapping[str, float], first: date, last: date
) -> float:
    """Money spent on days first..last at the given unit prices."""
    return sum(
        prices.get(m.metric, 0.0) * window_sum(m.days, m.quantity, first, last) for m in metrics
    )


@dataclass(frozen=True, slots=True)
class CommitForecast:
    """Where a commit stands on as_of, and when it runs out at the current burn."""

    contract_id: str
    start: date
    end: date
    committed: float
    currency: str
    consumed: float
    elapsed_fraction: float
    daily_burn: float  # average spend per day over the last 28 days of the term
    burn_range: tuple[float, float]  # slowest and fastest of the 7/28/56-day burns
    exhaustion_date: date | None  # None when nothing is being spent
    exhaustion_range: tuple[date | None, date | None]  # at the fastest and slowest burn
    projected_utilization: float  # at term end, at the current burn
    status: str  # exhausted | early | on_track | under_use | ended | no_prices | no_commit
    term_over: bool = False  # as_of is after the term's last day

    @property
    def state(self) -> str:
        """The state a CSM names: one of ``STATE_WORDS``' keys, or "" without a forecast.

        on_pace, under_use (an adoption risk), runs_out_early and overage (both an
        expansion conversation for the AE, never a problem), ended.
        """
        if self.status in ("no_prices", "no_commit") or self.committed <= 0:
            return ""
        if self.term_over or self.status == "ended":
            return "ended"
        return {"exhausted": "overage", "early": "runs_out_early", "under_use": "under_use"}.get(
            self.status, "on_pace"
        )

    @property
    def overage(self) -> float:
        """Spend past the commit so far (0 while the commit lasts)."""
        return max(0.0, self.consumed - self.committed)

    @property
    def utilization(self) -> float:
        """Share of the commit consumed so far."""
        return self.consumed / self.committed if self.committed > 0 else 0.0

    @property
    def remaining(self) -> float:
        """Commit left to consume."""
        return max(0.0, self.committed - self.consumed)

    @property
    def days_early(self) -> int | None:
        """Days between the forecast exhaustion and the term end (positive: runs out early)."""
        if self.exhaustion_date is None:
            return None
        return (self.end - self.exhaustion_date).days

    def explain(self, state: str | None = None) -> str:
        """Where the commit stands: its state first, then the figures behind it.

        ``state`` words it as that state instead of its own (an alert held open by
        hysteresis keeps saying "runs out early").
        """
        money = money_formatter(self.currency)
        if self.status == "no_commit" or self.committed <= 0:
            return f"Contract {self.contract_id} has no committed amount to burn down."
        head = (
            f"{self.utilization:.0%} of the {money(self.committed)} commit used with "
            f"{self.elapsed_fraction:.0%} of the term gone ({self.start} to {self.end})"
        )
        if self.status == "no_prices":
            return head + ". No unit prices on the contract, so spend cannot be measured."
        state = state or self.state
        if state == "ended":
            over = f", {money(self.overage)} past the commit" if self.overage > 0 else ""
            return f"Ended: {head}{over}."
        if state == "overage":
            since = f" since {self.exhaustion_date}" if self.exhaustion_date else ""
            return (
                f"In overage: {head}; {money(self.overage)} past the commit{since}. "
                "An expansion conversation for the AE."
            )
        if self.exhaustion_date is None:
            if state == "under_use":
                return f"Under-use risk: {head}. Nothing is being spent, so the rest goes unused."
            return f"On pace: {head}. Too early in the term to judge the pace."
        lo, hi = self.exhaustion_range
        when = f"runs out on {self.exhaustion_date}"
        if lo and hi and lo != hi:
            when += f" (between {lo} and {hi})"
        at = f"At {money(self.daily_burn)}/day it {when}"
        if state == "runs_out_early":
            return (
                f"Runs out early: {head}. {at}, {self.days_early} days before the term ends. "
                "An expansion conversation for the AE."
            )
        if state == "under_use":
            return (
                f"Under-use risk: {head}. At {money(self.daily_burn)}/day only "
                f"{self.projected_utilization:.0%} of it is used by term end."
            )
        early = self.days_early or 0
        if early > 0:  # before the term ends, but not surely early (the slow end is close)
            return f"On pace: {head}. {at}, {early} days before the term ends at this rate."
        return f"On pace: {head}. {at}, as the term ends or after."


STATE_WORDS: dict[str, str] = {
    "on_pace": "on pace",
    "under_use": "under-use risk",
    "runs_out_early": "runs out early",
    "overage": "in overage",
    "ended": "ended",
}


def commit_forecast(
    metrics: Sequence[MetricSeries],
    contracts: Sequence[ContractTerms],
    as_of: date,
    rules: AlertRules,
) -> CommitForecast | None:
    """Burn down the contract in force on as_of; None without any contract started by then."""
    contract = contract_in_force(contracts, as_of)
    if contract is None:
        return None
    last = min(as_of, contract.end)
    term_days = (contract.end - contract.start).days + 1
    elapsed = (last - contract.start).days + 1
    consumed = spend_between(metrics, contract.unit_prices, contract.start, last)
    burns = _burns(metrics, contract, last, elapsed)
    burn = burns[1]
    status, exhaustion, ex_range, projected = _project(
        contract, consumed, burn, (min(burns), max(burns)), last, rules, elapsed
    )
    if as_of > contract.end:
        status = "exhausted" if consumed >= contract.committed_amount > 0 else "ended"
        if status == "ended":  # a term that is over does not run out later
            exhaustion, ex_range = None, (None, None)
    if status == "exhausted":  # the day it ran out, not each day since
        exhaustion = _used_up(metrics, contract, last) or exhaustion
        ex_range = (exhaustion, exhaustion)
    return CommitForecast(
        contract_id=contract.id,
        start=contract.start,
        end=contract.end,
        committed=contract.committed_amount,
        currency=contract.currency,
        consumed=consumed,
        elapsed_fraction=min(1.0, elapsed / term_days),
        daily_burn=burn,
        burn_range=(min(burns), max(burns)),
        exhaustion_date=exhaustion,
        exhaustion_range=ex_range,
        projected_utilization=projected,
        status=status,
        term_over=as_of > contract.end,
    )


def _burns(
    metrics: Sequence[MetricSeries], contract: ContractTerms, last: date, elapsed: int
) -> tuple[float, float, float]:
    """Average daily spend over the last 7, 28 and 56 days of the term so far."""
    out = []
    for n in (7, 28, 56):
        days = min(n, elapsed)
        out.append(spend_between(metrics, contract.unit_prices, days_back(last, days), last) / days)
    return out[0], out[1], out[2]


def _project(
    contract: ContractTerms,
    consumed: float,
    burn: float,
    burn_range: tuple[float, float],
    last: date,
    rules: AlertRules,
    elapsed: int,
) -> tuple[str, date | None, tuple[date | None, date | None], float]:
    committed = contract.committed_amount
    if committed <= 0:
        return "no_commit", None, (None, None), 0.0
    if not any(p > 0 for p in contract.unit_prices.values()):
        return "no_prices", None, (None, None), 0.0
    days_left = (contract.end - last).days
    projected = (consumed + burn * days_left) / committed
    if consumed >= committed:
        return "exhausted", last, (last, last), projected
    remaining = committed - consumed
    exhaustion = _run_out(last, remaining, burn)
    ex_range = (_run_out(last, remaining, burn_range[1]), _run_out(last, remaining, burn_range[0]))
    early_by = rules.early_exhaustion_days
    # Judged at the kinder end of the burn range, so a noisy week does not flip the state:
    # early only if even the slowest burn runs out early; under-used only if even the
    # fastest burn leaves it under the line.
    slowest = ex_range[1] if burn_range[0] > 0 else None
    fastest = (consumed + burn_range[1] * days_left) / committed
    if (
        exhaustion is not None
        and slowest is not None
        and max(exhaustion, slowest) <= contract.end - timedelta(days=early_by)
    ):
        status = "early"
    elif max(projected, fastest) < rules.under_use_fraction and elapsed >= MIN_DAYS_FOR_UNDER_USE:
        status = "under_use"
    else:
        status = "on_track"
    return status, exhaustion, ex_range, projected


def _used_up(metrics: Sequence[MetricSeries], contract: ContractTerms, last: date) -> date | None:
    """The first day the spend reached the commit."""
    return next((day for day, left in burndown(metrics, contract, last) if left <= 0), None)


def _run_out(last: date, remaining: float, burn: float) -> date | None:
    if burn <= 0:
        return None
    days = remaining / burn  # may overflow to infinity for a vanishing burn
    return last + timedelta(days=math.ceil(days)) if days < 365 * 50 else None


def burndown(
    metrics: Sequence[MetricSeries], contract: ContractTerms, as_of: date
) -> list[tuple[date, float]]:
    """Commit remaining at the end of each day of the term up to as_of (for charts)."""
    last = min(as_of, contract.end)
    if last < contract.start:
        return []
    daily = [0.0] * ((last - contract.start).days + 1)
    for m in metrics:
        price = contract.unit_prices.get(m.metric, 0.0)
        for i, q in enumerate(dense(m.days, m.quantity, contract.start, last)):
            daily[i] += q * price
    remaining, points = contract.committed_amount, []
    for i, spent in enumerate(daily):
        remaining -= spent
        points.append((contract.start + timedelta(days=i), remaining))
    return points


@dataclass(frozen=True, slots=True)
class SpendProjection:
    """This calendar month's spend, projected to month end, against budget and baseline."""

    month: date  # the first day of the month
    spent: float
    projected: float
    daily_rate: float  # the last 7 days' average, used for the rest of the month
    budget: float | None
    baseline: float | None  # a usual month: the trailing 90 days (or since first use) scaled
    currency: str
    bill_shock: bool
    slow_projected: float = 0.0  # the month at the slower of the last 7 and 28 days' rates
    confidence: str = ""  # "certain", "high", "medium" or "low" when bill_shock, else ""

    @property
    def vs_budget(self) -> float | None:
        """Projection over budget (1.2 = 20% over)."""
        return self.projected / self.budget if self.budget else None

    @property
    def vs_baseline(self) -> float | None:
        """Projection over the usual month."""
        return self.projected / self.baseline if self.baseline else None

    def explain(self) -> str:
        """The projection in one or two sentences, with how sure the bill shock is."""
        money = money_formatter(self.currency)
        text = (
            f"{self.month:%B} spend so far {money(self.spent)}; at {money(self.daily_rate)}/day "
            f"the month ends near {money(self.projected)}"
        )
        against = []
        if self.vs_baseline is not None and self.baseline:
            against.append(f"{self.vs_baseline:.1f}x a usual month ({money(self.baseline)})")
        if self.vs_budget is not None and self.budget:
            against.append(f"{self.vs_budget:.0%} of the {money(self.budget)} budget")
        if against:
            text += ", " + " and ".join(against)
        if not self.bill_shock:
            return text + "."
        return f"{text}. Bill-shock risk, {CONFIDENCE_WORDS[self.confidence]}."


CONFIDENCE_WORDS: dict[str, str] = {
    "certain": "certain: the month has already spent more than the usual month and the budget",
    "high": "high confidence: even at the slower 28-day rate the month ends above both",
    "medium": "medium confidence: only the last week's rate takes the month above both",
    "low": "low confidence: few days of the month so far, and only the last week's rate "
    "takes it above both",
}
MIN_DAYS_FOR_CONFIDENCE = 7  # of the month observed before a projection is more than a guess


def spend_projection(
    metrics: Sequence[MetricSeries],
    contracts: Sequence[ContractTerms],
    as_of: date,
    rules: AlertRules,
) -> SpendProjection | None:
    """Project this month's spend; None when no contract gives prices."""
    contract = contract_in_force(contracts, as_of)
    if contract is None or not any(p > 0 for p in contract.unit_prices.values()):
        return None
    prices = contract.unit_prices
    month = as_of.replace(day=1)
    month_days = calendar.monthrange(as_of.year, as_of.month)[1]
    spent = spend_between(metrics, prices, month, as_of)
    rate = spend_between(metrics, prices, days_back(as_of, 7), as_of) / 7
    projected = spent + rate * (month_days - as_of.day)
    # The trailing 90 days, or fewer when priced usage began later: a young account's
    # usual month is not its few weeks of history spread over 90 days.
    history_first = month - timedelta(days=BASELINE_MONTH_DAYS)
    first_use = min(
        (m.days[0] for m in metrics if m.days and prices.get(m.metric, 0.0) > 0), default=None
    )
    if first_use is not None and first_use > history_first:
        history_first = first_use
    history_days = (month - history_first).days
    history = spend_between(metrics, prices, history_first, month - timedelta(days=1))
    baseline = history / history_days * month_days if history > 0 and history_days > 0 else None
    budget = contract.monthly_budget
    rate28 = spend_between(metrics, prices, days_back(as_of, 28), as_of) / 28
    slow = spent + min(rate, rate28) * (month_days - as_of.day)
    shock = _shock(projected, baseline, budget, rules)
    confidence = ""
    if shock:
        if _shock(spent, baseline, budget, rules):
            confidence = "certain"
        elif _shock(slow, baseline, budget, rules):
            confidence = "high"
        else:
            confidence = "medium" if as_of.day >= MIN_DAYS_FOR_CONFIDENCE else "low"
    return SpendProjection(
        month=month,
        spent=spent,
        projected=projected,
        daily_rate=rate,
        budget=budget,
        baseline=baseline,
        currency=contract.currency,
        bill_shock=shock,
        slow_projected=slow,
        confidence=confidence,
    )


def _shock(amount: float, baseline: float | None, budget: float | None, rules: AlertRules) -> bool:
    """Well above both the usual month and the budget (each that is known; one at least).

    A month above a low budget but like any other is no shock; nor is a busy month
    well within the budget the customer set.
    """
    has_budget = budget is not None and budget > 0
    if baseline is None and not has_budget:
        return False
    if baseline is not None and amount < rules.bill_shock_ratio * baseline:
        return False
    over_budget = budget is not None and amount >= rules.bill_shock_budget_ratio * budget
    return over_budget or not has_budget


def money_formatter(currency: str) -> Callable[[float], str]:
    """A formatter of amounts for sentences: '$12,400' or '12,400 EUR'."""

    def money(amount: float) -> str:
        if currency == "USD":
            return f"${amount:,.0f}" if abs(amount) >= 100 else f"${amount:,.2f}"
        return f"{amount:,.0f} {currency}"

    return money
