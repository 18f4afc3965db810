"""Read and write each warehouse sync's watermark and last run; callers own transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import sync_state

SUMMARY_LENGTH = 500


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where a sync stands: its watermark (None before the first row) and its last run."""

    name: str
    watermark: Any
    last_run_at: datetime | None
    last_summary: str | None


def get(conn: Connection, name: str) -> SyncState:
    """The state of a sync (empty if it never ran)."""
    row = conn.execute(sa.select(sync_state).where(sync_state.c.name == name)).first()
    if row is None:
        return SyncState(name, None, None, None)
    return SyncState(name, _load(row.watermark), row.last_run_at, row.last_summary)


def save(
    conn: Connection, name: str, *, watermark: Any, ran_at: datetime, summary: str | None = None
) -> None:
    """Record how far a sync has read and when it ran."""
    values = {
        "name": name,
        "watermark": _dump(watermark),
        "last_run_at": ran_at,
        "last_summary": summary[:SUMMARY_LENGTH] if summary else None,
    }
    stmt = upsert_statement(conn, sync_state).values(values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={k: stmt.excluded[k] for k in ("watermark", "last_run_at", "last_summary")},
        )
    )


def _dump(value: Any) -> dict[str, Any] | None:
    """A watermark as JSON that keeps its type, so it binds back as the same type."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return {"type": "datetime", "value": aware.isoformat(), "naive": value.tzinfo is None}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bool):
        raise TypeError("a watermark column must be a time, a date, a number or text")
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float | Decimal):
        return {"type": "decimal", "value": str(value)}
    return {"type": "str", "value": str(value)}


def _load(data: dict[str, Any] | None) -> Any:
    if not data:
        return None
    kind, value = data["type"], data["value"]
    if kind == "datetime":
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=None) if data.get("naive") else moment
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return Decimal(value)
    return str(value)
