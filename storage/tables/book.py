"""The book: accounts, contracts, usage (raw and rolled up), tickets, deliveries seen, health."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables.timestamps import UTCDateTime, utc_now


class Account(SQLModel, table=True):
    """A customer account, from the CRM or created as a placeholder by its first event."""

    __tablename__ = "accounts"

    id: str = Field(primary_key=True, max_length=255)
    name: str = Field(max_length=255)
    domain: str | None = Field(default=None, max_length=255)
    segment: str | None = Field(default=None, max_length=100, index=True)
    arr: float | None = None
    csm: str | None = Field(default=None, max_length=255, index=True)
    ae: str | None = Field(default=None, max_length=255)
    timezone: str | None = Field(default=None, max_length=64)
    customer_since: date | None = None
    go_live_date: date | None = None
    renewal_date: date | None = None
    churned_date: date | None = None
    is_placeholder: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class Contract(SQLModel, table=True):
    """A commit or prepaid-credit contract with its unit prices per metric."""

    __tablename__ = "contracts"

    id: str = Field(primary_key=True, max_length=255)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=255)
    kind: str = Field(default="commit", max_length=32)
    start_date: date
    end_date: date
    committed_amount: float
    currency: str = Field(default="USD", max_length=3)
    unit_prices: dict[str, float] = Field(default_factory=dict, sa_type=sa.JSON)
    monthly_budget: float | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class UsageEvent(SQLModel, table=True):
    """One raw usage event, kept once per sender id."""

    __tablename__ = "usage_events"
    # Only the key is indexed: the raw events are a log, read in bulk; every read by
    # account goes to the rollups. Each index here would cost every ingested event.

    id: str = Field(primary_key=True, max_length=255)
    account_id: str = Field(foreign_key="accounts.id", max_length=255)
    metric: str = Field(max_length=100)
    ts: datetime = Field(sa_type=UTCDateTime)
    quantity: float
    user_id: str | None = Field(default=None, max_length=255)
    feature: str | None = Field(default=None, max_length=255)
    team: str | None = Field(default=None, max_length=255)
    success: bool | None = None
    properties: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    received_at: datetime = Field(sa_type=UTCDateTime)


class UsageDaily(SQLModel, table=True):
    """Per account, metric and UTC day: the sum of quantities and the count of events.

    A day with a usage summary (``summarized``) holds the summary's total; raw events
    for that day are kept but no longer added to it.
    """

    __tablename__ = "usage_daily"
    # One B-tree on SQLite (clustered on the key) instead of a table plus its key index.
    __table_args__ = {"sqlite_with_rowid": False}

    # No foreign key: rows derive from usage_events, which has one; checking it again
    # for every rollup row would cost a quarter of the ingestion time.
    account_id: str = Field(primary_key=True, max_length=255)
    metric: str = Field(primary_key=True, max_length=100)
    day: date = Field(primary_key=True)
    quantity: float = 0.0
    events: int = 0
    successes: int = 0
    failures: int = 0
    summarized: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class UsageDailyBreakdown(SQLModel, table=True):
    """Per account, metric and day, totals by feature, team or user.

    ``dimension`` is ``feature``, ``team`` or ``user``; ``value`` is its name. The
    ``user`` rows give distinct active users; ``feature`` rows per-use-case totals.
    """

    __tablename__ = "usage_daily_breakdown"
    __table_args__ = {"sqlite_with_rowid": False}  # reads by account use the key's prefix

    account_id: str = Field(primary_key=True, max_length=255)  # no foreign key: see above
    metric: str = Field(primary_key=True, max_length=100)
    day: date = Field(primary_key=True)
    dimension: str = Field(primary_key=True, max_length=16)
    value: str = Field(primary_key=True, max_length=255)
    quantity: float = 0.0
    events: int = 0
    successes: int = 0
    failures: int = 0


class SupportTicket(SQLModel, table=True):
    """A support ticket, upserted by its id from the help desk."""

    __tablename__ = "support_tickets"

    id: str = Field(primary_key=True, max_length=255)
    account_id: str = Field(foreign_key="accounts.id", index=True, max_length=255)
    status: str = Field(max_length=16)
    priority: str = Field(default="normal", max_length=16)
    subject: str | None = Field(default=None, max_length=500)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    solved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    csat: int | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """A delivery seen (webhook-id or Idempotency-Key), recorded with what it stored."""

    __tablename__ = "webhook_deliveries"

    endpoint: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=255)
    body_sha256: str = Field(max_length=64)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class SegmentGroup(SQLModel, table=True):
    """The account a Segment user belongs to, from the latest `group` call seen for them."""

    __tablename__ = "segment_groups"

    user_id: str = Field(primary_key=True, max_length=255)
    account_id: str = Field(max_length=255)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class HealthSnapshot(SQLModel, table=True):
    """One account's evaluation for one UTC day (signals.model.Snapshot), rewritten by reruns.

    Digests read one day for the whole book (the index on ``day``); an account's history
    reads a prefix of the key. No foreign key, as for the rollups: snapshots are derived
    data, written in bulk for accounts that exist. Rows keep their rowid on SQLite:
    ``detail`` is too large for a WITHOUT ROWID table to pay off.
    """

    __tablename__ = "health_snapshots"

    account_id: str = Field(primary_key=True, max_length=255)
    day: date = Field(primary_key=True, index=True)
    score: float
    band: str = Field(max_length=16)
    churn_risk: float
    expansion_likelihood: float
    tier: str = Field(max_length=16)
    tier_since: date
    exhaustion_date: date | None = None
    projected_month_spend: float | None = None
    components: dict[str, float | None] = Field(default_factory=dict, sa_type=sa.JSON)
    flags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    reasons: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    computed_at: datetime = Field(sa_type=UTCDateTime)


accounts = Account.__table__  # type: ignore[attr-defined]
contracts = Contract.__table__  # type: ignore[attr-defined]
usage_events = UsageEvent.__table__  # type: ignore[attr-defined]
usage_daily = UsageDaily.__table__  # type: ignore[attr-defined]
usage_daily_breakdown = UsageDailyBreakdown.__table__  # type: ignore[attr-defined]
support_tickets = SupportTicket.__table__  # type: ignore[attr-defined]
webhook_deliveries = WebhookDelivery.__table__  # type: ignore[attr-defined]
health_snapshots = HealthSnapshot.__table__  # type: ignore[attr-defined]
segment_groups = SegmentGroup.__table__  # type: ignore[attr-defined]
