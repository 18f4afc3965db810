"""Steward's tables. Schema changes go through an Alembic migration (storage/migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp kept in UTC on every database and read back timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Steward stores only timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


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
    created_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)


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
    created_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)


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
    """Per account, metric and UTC day: the sum of quantities and the count of events."""

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
    created_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """A delivery seen (webhook-id or Idempotency-Key), recorded with what it stored."""

    __tablename__ = "webhook_deliveries"

    endpoint: str = Field(primary_key=True, max_length=32)
    id: str = Field(primary_key=True, max_length=255)
    body_sha256: str = Field(max_length=64)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


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


class PendingReply(SQLModel, table=True):
    """A command or button click acknowledged to the platform and not yet answered.

    Written before the acknowledgement, so that an answer interrupted by a crash or a
    redeploy is finished by the next process (while the platform still accepts it)
    instead of being dropped silently.
    """

    __tablename__ = "pending_replies"

    id: str = Field(primary_key=True, max_length=64)
    platform: str = Field(max_length=16)
    kind: str = Field(max_length=16)  # "command" or "action"
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(max_length=16, index=True)  # pending, done, failed, expired
    attempts: int = 0
    received_at: datetime = Field(sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, max_length=500)


class AlertSnooze(SQLModel, table=True):
    """Alerts for an account muted until a time, by whom (a button on /health or an alert)."""

    __tablename__ = "alert_snoozes"

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(max_length=255, index=True)
    kind: str = Field(default="*", max_length=32)  # an alert kind, or "*" for every kind
    until: datetime = Field(sa_type=UTCDateTime)
    snoozed_by: str = Field(max_length=255)
    platform: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UTCDateTime)


metadata = SQLModel.metadata
accounts = Account.__table__  # type: ignore[attr-defined]
contracts = Contract.__table__  # type: ignore[attr-defined]
usage_events = UsageEvent.__table__  # type: ignore[attr-defined]
usage_daily = UsageDaily.__table__  # type: ignore[attr-defined]
usage_daily_breakdown = UsageDailyBreakdown.__table__  # type: ignore[attr-defined]
support_tickets = SupportTicket.__table__  # type: ignore[attr-defined]
webhook_deliveries = WebhookDelivery.__table__  # type: ignore[attr-defined]
health_snapshots = HealthSnapshot.__table__  # type: ignore[attr-defined]
pending_replies = PendingReply.__table__  # type: ignore[attr-defined]
alert_snoozes = AlertSnooze.__table__  # type: ignore[attr-defined]


class AccountChange(SQLModel, table=True):
    """An account whose data changed (ingestion marks it) and when alerts last looked at it."""

    __tablename__ = "account_changes"

    account_id: str = Field(primary_key=True, max_length=255)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    evaluated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AlertState(SQLModel, table=True):
    """One alert condition of one account: open or resolved, notified when, taken by whom.

    Keyed by (account_id, key): opening or resolving is a conditional update, so of two
    workers evaluating the same account only one sees the change and announces it.
    """

    __tablename__ = "alert_states"

    account_id: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=255)  # e.g. "usage_drop", "new_use_case:voice"
    kind: str = Field(max_length=32)
    status: str = Field(max_length=16, index=True)  # open, resolved
    severity: str = Field(max_length=16)
    title: str = Field(max_length=255)
    evidence: str = Field(max_length=2000)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # of this episode
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # any episode
    acknowledged_by: str | None = Field(default=None, max_length=255)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    assigned_to: str | None = Field(default=None, max_length=255)
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Subscription(SQLModel, table=True):
    """A channel's subscription to digests, manager digests or alerts (one per kind)."""

    __tablename__ = "subscriptions"
    __table_args__ = (sa.UniqueConstraint("platform", "channel", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    channel: str = Field(max_length=255)
    kind: str = Field(max_length=16)  # digest, manager, alerts
    scope: str = Field(default="all", max_length=16)  # all, book, segment, tier
    scope_value: str | None = Field(default=None, max_length=255)
    owner_handles: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # for "my book"
    at_time: str = Field(default="08:30", max_length=5)  # HH:MM, local
    timezone: str = Field(default="UTC", max_length=64)  # IANA name
    weekdays_only: bool = False
    quiet_start: str | None = Field(default=None, max_length=5)  # HH:MM, local
    quiet_end: str | None = Field(default=None, max_length=5)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class OutboxMessage(SQLModel, table=True):
    """A message to post, written before it is sent; its key makes it exactly once.

    ``key`` is (platform, channel, kind, account, period) joined, e.g.
    ``slack:C123:digest:-:2026-11-23``. A sender claims a row with a lease, posts it
    (the key travels in the message's metadata), then marks it sent with the
    platform's message id. A sender that finds a row claimed before looks for the
    message by its key first, so a crash between posting and marking never doubles it.
    """

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    platform: str = Field(max_length=16)
    channel: str = Field(max_length=255)
    kind: str = Field(max_length=16)  # digest, manager, alert
    account_id: str | None = Field(default=None, max_length=255)
    period: str = Field(max_length=64)
    card: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # bot.messages.Card
    status: str = Field(max_length=16)  # pending, sent, failed
    attempts: int = 0
    not_before: datetime = Field(sa_type=UTCDateTime)  # quiet hours, Retry-After
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message_channel: str | None = Field(default=None, max_length=255)
    message_id: str | None = Field(default=None, max_length=255)
    error: str | None = Field(default=None, max_length=500)


class MessageAction(SQLModel, table=True):
    """A click on a posted alert or digest: who did what, when (shown on the message)."""

    __tablename__ = "message_actions"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int | None = Field(default=None, index=True)
    account_id: str | None = Field(default=None, max_length=255)
    action: str = Field(max_length=32)  # acknowledge, snooze, assign
    detail: str | None = Field(default=None, max_length=255)
    by: str = Field(max_length=255)
    by_name: str | None = Field(default=None, max_length=255)
    platform: str = Field(max_length=16)
    at: datetime = Field(sa_type=UTCDateTime)


class JobRun(SQLModel, table=True):
    """The last run of each scheduled job: when, how it went, what it did."""

    __tablename__ = "job_runs"

    name: str = Field(primary_key=True, max_length=64)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(max_length=16)  # running, ok, failed
    summary: str | None = Field(default=None, max_length=500)
    runs: int = 0
    ok_runs: int = 0


class TeamsConversation(SQLModel, table=True):
    """A Teams conversation Steward can post to: its reference, kept from every activity.

    The Bot Connector needs the service URL and the conversation id (and, for a new
    personal chat, the tenant) to post proactively: every authenticated activity and
    every install refreshes them. ``kind`` is Teams' conversationType (personal,
    channel, groupChat); a personal chat also names its user, so alerts meant for a CSM
    (``user:<handle>`` in the outbox) find their way to that chat.
    """

    __tablename__ = "teams_conversations"

    conversation_id: str = Field(primary_key=True, max_length=255)
    service_url: str = Field(max_length=500)
    tenant_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)  # personal, channel, groupChat
    team_id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    bot_id: str = Field(max_length=255)
    user_id: str | None = Field(default=None, max_length=255)  # personal chats: Teams user id
    user_aad_id: str | None = Field(default=None, max_length=64, index=True)
    user_email: str | None = Field(default=None, max_length=255, index=True)
    user_name: str | None = Field(default=None, max_length=255)
    installed: bool = True
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ChartImage(SQLModel, table=True):
    """A chart drawn for a Teams card, served at /charts/<id>.png (ids are unguessable)."""

    __tablename__ = "chart_images"

    id: str = Field(primary_key=True, max_length=64)
    png: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


account_changes = AccountChange.__table__  # type: ignore[attr-defined]
alert_states = AlertState.__table__  # type: ignore[attr-defined]
subscriptions = Subscription.__table__  # type: ignore[attr-defined]
outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
message_actions = MessageAction.__table__  # type: ignore[attr-defined]
job_runs = JobRun.__table__  # type: ignore[attr-defined]
teams_conversations = TeamsConversation.__table__  # type: ignore[attr-defined]
chart_images = ChartImage.__table__  # type: ignore[attr-defined]
