"""Warehouse syncs: how far each named sync has read (its watermark) and how its last run went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables.timestamps import UTCDateTime


class SyncState(SQLModel, table=True):
    """One named sync: the largest watermark read so far (typed JSON) and its last run."""

    __tablename__ = "sync_state"

    name: str = Field(primary_key=True, max_length=100)
    watermark: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    last_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_summary: str | None = Field(default=None, max_length=500)


sync_state = SyncState.__table__  # type: ignore[attr-defined]
