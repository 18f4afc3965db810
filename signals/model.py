"""What the signals are computed from: plain, immutable records, loaded by storage.

Every series is sorted by day, oldest first, and holds only days with activity.
A record may hold days after the evaluation date (a backtest loads the whole
history once); every signal looks only at days on or before its ``as_of``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class ScoringError(Exception):
    """Scoring cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """A customer account as the CRM describes it."""

    id: str
    name: str
    segment: str | None = None
    arr: float | None = None
    csm: str | None = None
    ae: str | None = None
    customer_since: date | None = None
    go_live_date: date | None = None
    renewal_date: date | None = None
    churned_date: date | None = None


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """A commit (or prepaid credits): an amount to consume over a term, priced per metric."""

    id: str
    start: date
    end: date  # the last day covered (inclusive, as contracts are written)
    committed_amount: float
    unit_prices: Mapping[str, float] = field(default_factory=dict)
    monthly_budget: float | None = None
    kind: str = "commit"
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """Daily totals of one metric for one account (UTC days)."""

    metric: str
    days: tuple[date, ...]
    quantity: tuple[float, ...]
    events: tuple[int, ...]
    successes: tuple[int, ...] = ()
    failures: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DimensionActivity:
    """Days on which one feature, team or user was active, with its event counts."""

    dimension: str  # "feature", "team" or "user"
    value: str
    days: tuple[date, ...]
    events: tuple[int, ...]
    successes: tuple[int, ...] = ()
    failures: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Ticket:
    """A support ticket."""

    id: str
    status: str
    priority: str
    opened_at: datetime
    solved_at: datetime | None = None
    csat: int | None = None


@dataclass(frozen=True, slots=True)
class AccountData:
    """Everything Steward knows about one account."""

    account: AccountInfo
    metrics: tuple[MetricSeries, ...] = ()
    contracts: tuple[ContractTerms, ...] = ()
    dimensions: tuple[DimensionActivity, ...] = ()
    tickets: tuple[Ticket, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One account's stored evaluation for one day: what history, tiers and alerts build on.

    ``components`` holds each health component's 0-100 score (None when it did not
    apply); ``flags`` the conditions in force that day (alerts fire when one appears);
    ``detail`` the full explanation as JSON-ready data.
    """

    account_id: str
    day: date
    score: float
    band: str
    churn_risk: float
    expansion_likelihood: float
    tier: str
    tier_since: date
    exhaustion_date: date | None = None
    projected_month_spend: float | None = None
    components: Mapping[str, float | None] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    detail: Mapping[str, object] = field(default_factory=dict)

    def explained(self, key: str) -> Any:
        """One part of ``detail`` as stored JSON (None when absent): lists, dicts, text."""
        return self.detail.get(key)
