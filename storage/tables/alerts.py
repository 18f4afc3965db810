"""Alert bookkeeping: accounts changed since alerts looked, alert conditions, snoozes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.tables.timestamps import UTCDateTime


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


account_changes = AccountChange.__table__  # type: ignore[attr-defined]
alert_states = AlertState.__table__  # type: ignore[attr-defined]
alert_snoozes = AlertSnooze.__table__  # type: ignore[attr-defined]
