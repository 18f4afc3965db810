"""Daily rollups: fold newly stored events into per-day totals, in the same transaction.

Only events that the insert actually stored (not duplicates) are folded in, so a
rollup always equals the sum of the raw events behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import usage_daily, usage_daily_breakdown

BREAKDOWN_DIMENSIONS = (("feature", "feature"), ("team", "team"), ("user", "user_id"))


@dataclass(slots=True)
class Totals:
    """Running totals for one rollup row."""

    quantity: float = 0.0
    events: int = 0
    successes: int = 0
    failures: int = 0

    def add(self, quantity: float, success: bool | None) -> None:
        self.quantity += quantity
        self.events += 1
        if success is True:
            self.successes += 1
        elif success is False:
            self.failures += 1


DailyKey = tuple[str, str, date]
BreakdownKey = tuple[str, str, date, str, str]


def aggregate(
    events: Iterable[Mapping[str, Any]],
) -> tuple[dict[DailyKey, Totals], dict[BreakdownKey, Totals]]:
    """Sum event rows (as stored in usage_events) by UTC day, and by feature, team and user."""
    daily: dict[DailyKey, Totals] = {}
    breakdown: dict[BreakdownKey, Totals] = {}
    for ev in events:
        day = ev["ts"].astimezone(UTC).date()
        key = (ev["account_id"], ev["metric"], day)
        totals = daily.get(key)
        if totals is None:
            totals = daily[key] = Totals()
        totals.add(ev["quantity"], ev["success"])
        for dimension, column in BREAKDOWN_DIMENSIONS:
            value = ev[column]
            if value is None:
                continue
            bkey = (*key, dimension, value)
            btotals = breakdown.get(bkey)
            if btotals is None:
                btotals = breakdown[bkey] = Totals()
            btotals.add(ev["quantity"], ev["success"])
    return daily, breakdown


def apply(conn: Connection, events: Iterable[Mapping[str, Any]]) -> None:
    """Add the given newly stored events to the rollup tables."""
    daily, breakdown = aggregate(events)
    daily_keys = ("account_id", "metric", "day")
    breakdown_keys = (*daily_keys, "dimension", "value")
    # Sorted keys: concurrent writers lock rollup rows in one order and cannot deadlock.
    _add(conn, usage_daily, daily_keys, sorted(daily.items()))
    _add(conn, usage_daily_breakdown, breakdown_keys, sorted(breakdown.items()))


def _add(
    conn: Connection,
    table: sa.Table,
    key_names: tuple[str, ...],
    items: list[tuple[tuple[Any, ...], Totals]],
) -> None:
    if not items:
        return
    rows = [
        {
            **dict(zip(key_names, key, strict=True)),
            "quantity": t.quantity,
            "events": t.events,
            "successes": t.successes,
            "failures": t.failures,
        }
        for key, t in items
    ]
    stmt = upsert_statement(conn, table)
    counters = ("quantity", "events", "successes", "failures")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key_names),
        set_={name: table.c[name] + stmt.excluded[name] for name in counters},
    )
    conn.execute(stmt, rows)
