"""What Steward sends and answers: replies, subscriptions, the outbox, clicks, Teams
conversations, chart images, and the scheduled jobs' last runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables.timestamps import UTCDateTime


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
    account_ids: list[str] = Field(  # accounts followed (a person's own alerts)
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": "[]"}
    )
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
    card: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # core.messages.Card
    status: str = Field(max_length=16)  # pending, sent, failed
    attempts: int = 0
    # tries put off by a rate limit, a server error or a lost connection: not failures
    deferrals: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # past this a message is no longer worth sending (a digest after its day, an alert
    # after some hours): kept as failed "stale" instead of retried
    stale_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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


pending_replies = PendingReply.__table__  # type: ignore[attr-defined]
subscriptions = Subscription.__table__  # type: ignore[attr-defined]
outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
message_actions = MessageAction.__table__  # type: ignore[attr-defined]
job_runs = JobRun.__table__  # type: ignore[attr-defined]
teams_conversations = TeamsConversation.__table__  # type: ignore[attr-defined]
chart_images = ChartImage.__table__  # type: ignore[attr-defined]
