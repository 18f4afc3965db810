"""Backtests: what happened after a cut-off, and how well scores ranked it."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from signals.activity import activity
from signals.commit import contract_in_force
from signals.model import AccountData, MetricSeries
from signals.series import days_back, window_sum

OUTCOME_WINDOW = 28
CHURN_RATIO = 0.3  # the horizon's last 28 days at or below 30% of the 28 days before the cut-off
EXPAND_RATIO = 1.5  # ... or at or above 150%
QUIET_DAYS = 14  # the shortest silence that counts as churn (for an account used daily)
RHYTHM_FACTOR = 3.0  # silent for three of its usual gaps: longer than its rhythm explains
DENSE_GAP = 7.0  # used at least weekly: a steep fall in volume is churn too
LAPSED_DAYS = 365  # an occasional buyer silent for a year before the cut-off is not judged


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an account did in the horizon after a cut-off."""

    eligible: bool  # active before the cut-off for at least a window, so it can churn or grow
    churned: bool
    expanded: bool
    before: float  # usage measure over the 28 days to the cut-off
    after: float  # ... over the horizon's last 28 days
    measure: str  # "spend" or "events"


def usage_measure(data: AccountData, as_of: date) -> tuple[str, Callable[[date, date], float]]:
    """Spend when the contract in force prices every metric, else the count of events."""
    contract = contract_in_force(data.contracts, as_of)
    prices = contract.unit_prices if contract else {}
    metrics = data.metrics
    if metrics and all(prices.get(m.metric, 0.0) > 0 for m in metrics):

        def spend(first: date, last: date) -> float:
            return sum(
                prices[m.metric] * window_sum(m.days, m.quantity, first, last) for m in metrics
            )

        return "spend", spend

    def events(first: date, last: date) -> float:
        return sum(window_sum(m.days, m.events, first, last) for m in metrics)

    return "events", events


def silence_days(usual_gap: float | None, horizon_days: int) -> int:
    """How long an account must be silent to count as churned, from its own rhythm.

    Three of its usual gaps between active days, at least QUIET_DAYS (half the
    horizon when that is shorter than four weeks, so that a short horizon still
    sees the first half of it) and at most the horizon; an account with no rhythm
    yet (fewer than two active days) must be silent for the whole horizon.
    """
    if usual_gap is None:
        return horizon_days
    floor = QUIET_DAYS if horizon_days >= 28 else max(7, horizon_days // 2)
    return int(min(horizon_days, max(floor, round(RHYTHM_FACTOR * usual_gap))))


def outcome(data: AccountData, as_of: date, horizon_days: int) -> Outcome:
    """Label an account: churned, expanded or neither, over the horizon after as_of.

    Churned, by the first rule that applies: the CRM marks it churned within the
    horizon; or it is silent at the horizon's end for longer than its own rhythm
    explains (``silence_days``: no activity in the horizon at all for a customer
    who buys a few times a year, none in its last 14 days for one used daily); or,
    for an account used at least weekly, the horizon's last 28 days hold at most
    30% of the usage of the 28 days before the cut-off. Expanded: those 28 days
    hold at least 150% of it, and so do at least three of their four weeks against
    an average week before the cut-off, so that a one-off spike counts as a bill
    shock, not an expansion. Eligible: first used at least 28 days before the
    cut-off, not marked churned by then, and still in play: an account used at least
    weekly must not already be silent for longer than its rhythm explains (it churned
    before the cut-off by the same rule); an occasional buyer, whose leaving nobody
    sees, must have bought within the year (BG/NBD's view: silence is not proof).
    """
    name, measure = usage_measure(data, as_of)
    before = measure(days_back(as_of, OUTCOME_WINDOW), as_of)
    end = as_of + timedelta(days=horizon_days)
    after = measure(days_back(end, OUTCOME_WINDOW), end)
    rhythm = activity(data.metrics, as_of)
    quiet_for = silence_days(rhythm.usual_gap, horizon_days)
    dense = rhythm.usual_gap is not None and rhythm.usual_gap <= DENSE_GAP
    eligible = (
        rhythm.first_day is not None
        and rhythm.first_day <= as_of - timedelta(days=OUTCOME_WINDOW)
        and (rhythm.days_since_last or 0) < (quiet_for if dense else LAPSED_DAYS)
        and (data.account.churned_date is None or data.account.churned_date > as_of)
    )
    quiet = measure(days_back(end, quiet_for), end) <= 0
    fell = dense and before > 0 and after <= CHURN_RATIO * before
    crm_churn = data.account.churned_date is not None and as_of < data.account.churned_date <= end
    churned = eligible and (crm_churn or quiet or fell)
    weeks = sorted(
        measure(end - timedelta(days=7 * k + 6), end - timedelta(days=7 * k)) for k in range(4)
    )
    sustained = weeks[1] >= EXPAND_RATIO * before / 4  # three weeks of four: not one spike
    expanded = (
        eligible and not churned and before > 0 and after >= EXPAND_RATIO * before and sustained
    )
    return Outcome(eligible, churned, expanded, before, after, name)


@dataclass(frozen=True, slots=True)
class Baselines:
    """Simple predictors a CS team could compute by hand, for comparison."""

    days_since_last_use: float
    volume_28d: float
    trend_28d: float  # log ratio of the last 28 days to the 28 before


def baselines(data: AccountData, as_of: date) -> Baselines:
    """The simple predictors, from the same usage measure as the outcome."""
    _, measure = usage_measure(data, as_of)
    recent = measure(days_back(as_of, 28), as_of)
    prior = measure(days_back(as_of - timedelta(days=28), 28), as_of - timedelta(days=28))
    return Baselines(
        days_since_last_use=float(_days_since_last(data.metrics, as_of)),
        volume_28d=recent,
        trend_28d=math.log((recent + 1.0) / (prior + 1.0)),
    )


def _days_since_last(metrics: Sequence[MetricSeries], as_of: date) -> int:
    best: date | None = None
    for m in metrics:
        for day in reversed(m.days):
            if day <= as_of:
                best = day if best is None or day > best else best
                break
    return (as_of - best).days if best else 10_000


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (ties count half); None when only one class is present."""
    pos = sum(1 for y in labels if y)
    neg = len(labels) - pos
    if not pos or not neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


@dataclass(frozen=True, slots=True)
class Decile:
    """One tenth of the accounts, highest scores first."""

    decile: int
    accounts: int
    positives: int
    rate: float
    lift: float


def lift_by_decile(scores: Sequence[float], labels: Sequence[bool], bins: int = 10) -> list[Decile]:
    """Outcome rate per decile of score (1 = highest scores) over the overall rate."""
    n = len(scores)
    if not n:
        return []
    base = sum(labels) / n
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    out = []
    for b in range(bins):
        members = order[b * n // bins : (b + 1) * n // bins]
        if not members:
            continue
        positives = sum(1 for i in members if labels[i])
        rate = positives / len(members)
        out.append(Decile(b + 1, len(members), positives, rate, rate / base if base else 0.0))
    return out


@dataclass(frozen=True, slots=True)
class PredictorResult:
    """How one predictor ranked one outcome."""

    target: str  # "churn" or "expansion"
    predictor: str
    auc: float | None
    top_decile_lift: float | None
    kind: str  # "model", "score" (the health score) or "baseline" (a simple predictor)

    @property
    def is_model(self) -> bool:
        """True for the model built to predict this outcome."""
        return self.kind == "model"


def compare(
    target: str,
    labels: Sequence[bool],
    predictors: Sequence[tuple[str, Sequence[float], str]],
) -> list[PredictorResult]:
    """AUC and top-decile lift of each (name, scores, kind) for one outcome."""
    out = []
    for name, scores, kind in predictors:
        deciles = lift_by_decile(scores, labels)
        out.append(
            PredictorResult(
                target=target,
                predictor=name,
                auc=roc_auc(scores, labels),
                top_decile_lift=deciles[0].lift if deciles else None,
                kind=kind,
            )
        )
    return out
