"""Usage summaries in: daily (or hourly) totals per account and metric, stored exactly once.

Validation is :class:`handlers.api.schemas.UsageIn`'s; how a summary combines with raw
events for the same day is :mod:`storage.summaries`'s rule (a day with a summary is the
summary's total).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from handlers.api.schemas import UsageIn
from storage import alert_states, summaries


def summary_rows(models: Sequence[UsageIn]) -> list[summaries.SummaryRow]:
    """Map summaries to rows in the order sent, keeping the first of any ids repeated."""
    rows: dict[str, summaries.SummaryRow] = {}
    for m in models:
        if m.id not in rows:
            rows[m.id] = summaries.SummaryRow(
                m.id, m.account, m.metric, m.utc_day, m.slot, m.quantity, m.events, m.users
            )
    return list(rows.values())


def write(conn: Connection, models: Sequence[UsageIn], *, now: datetime) -> dict[str, Any]:
    """Store the summaries not seen before in the caller's transaction; what was counted."""
    new = summaries.store_summaries(conn, summary_rows(models), now=now)
    if new:  # alerts look again at these accounts within a minute
        alert_states.mark_changed(conn, {r.account_id for r in new}, now=now)
    return {"received": len(models), "accepted": len(new), "duplicates": len(models) - len(new)}
