"""Usage summaries: totals per account, metric and day (or hour) sent instead of raw events."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from storage.tables.timestamps import UTCDateTime

WHOLE_DAY = -1  # the slot of a total for the whole day; an hourly total's slot is its hour


class UsageSummary(SQLModel, table=True):
    """Every summary row received, kept once per sender id (a redelivery is a duplicate)."""

    __tablename__ = "usage_summaries"

    id: str = Field(primary_key=True, max_length=255)
    account_id: str = Field(max_length=255)
    metric: str = Field(max_length=100)
    day: date
    slot: int
    quantity: float
    events: int | None = None
    users: int | None = None
    received_at: datetime = Field(sa_type=UTCDateTime)


class UsageSummaryTotal(SQLModel, table=True):
    """The current total per account, metric, day and slot: the latest summary received.

    ``usage_daily`` for a summarized day is the sum of these slots.
    """

    __tablename__ = "usage_summary_totals"
    __table_args__ = {"sqlite_with_rowid": False}

    account_id: str = Field(primary_key=True, max_length=255)
    metric: str = Field(primary_key=True, max_length=100)
    day: date = Field(primary_key=True)
    slot: int = Field(primary_key=True)
    quantity: float
    events: int | None = None
    users: int | None = None
    summary_id: str = Field(max_length=255)
    updated_at: datetime = Field(sa_type=UTCDateTime)


usage_summaries = UsageSummary.__table__  # type: ignore[attr-defined]
usage_summary_totals = UsageSummaryTotal.__table__  # type: ignore[attr-defined]
