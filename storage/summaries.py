"""Usage summaries: store totals per day (or hour) and make them the day's rollup.

How summaries and raw events combine: a day with a summary is the summary's total.
``usage_daily`` for that account, metric and day becomes the sum of the day's current
totals (one for the whole day, or one per UTC hour) and is marked ``summarized``; raw
events for that day are still kept (and still feed the per-feature, team and user
breakdowns) but no longer add to the day's total. A later total for the same slot
replaces the earlier one, never adds; a whole-day total replaces the day's hourly
totals and an hourly total replaces a whole-day total. A summary without an event
count counts one event per slot with a quantity above 0 (the day was active).

Every function runs in the caller's transaction; rows are written in key order, so
concurrent batches wait on each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import bulk
from storage.dialect import upsert_statement
from storage.tables import usage_daily, usage_summaries, usage_summary_totals
from storage.tables.summaries import WHOLE_DAY

_CHUNK = 300  # rows per statement, well under both databases' parameter limits
DayKey = tuple[str, str, date]


class SummaryRow(NamedTuple):
    """One usage_summaries row as it is written (received_at is added when stored)."""

    id: str
    account_id: str
    metric: str
    day: date
    slot: int  # the UTC hour, or WHOLE_DAY
    quantity: float
    events: int | None
    users: int | None


@dataclass
class _DayChange:
    clear: str | None = None  # "all" slots of the day, or only the whole-"day" slot
    slots: dict[int, SummaryRow] = field(default_factory=dict)


def store_summaries(
    conn: Connection, rows: Sequence[SummaryRow], *, now: datetime
) -> list[SummaryRow]:
    """Store the rows whose id is new and make them their days' totals; return them.

    Args:
        rows: summary rows with distinct ids, in the order they were sent (a later row
            for the same account, metric and day replaces an earlier one).
        now: the time of receipt.
    """
    fresh = _insert_new(conn, rows, now=now)
    new = [r for r in rows if r.id in fresh]
    if not new:
        return []
    bulk.ensure_accounts(conn, [r.account_id for r in new], now=now)
    changes = _changes(new)
    _clear(conn, changes)
    _set_totals(conn, changes, now=now)
    _roll_up(conn, sorted(changes))
    return new


def _insert_new(conn: Connection, rows: Sequence[SummaryRow], *, now: datetime) -> set[str]:
    """Record each row not seen before (a concurrent insert of the same id waits, then skips)."""
    if not rows:
        return set()
    stmt = (
        upsert_statement(conn, usage_summaries)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(usage_summaries.c.id)
    )
    values = [{**r._asdict(), "received_at": now} for r in sorted(rows)]
    return set(conn.execute(stmt, values).scalars())  # one cached statement, batched


def _changes(rows: Sequence[SummaryRow]) -> dict[DayKey, _DayChange]:
    """What the batch does to each day, applying its rows in the order they were sent."""
    changes: dict[DayKey, _DayChange] = {}
    for r in rows:
        change = changes.setdefault((r.account_id, r.metric, r.day), _DayChange())
        if r.slot == WHOLE_DAY:
            change.clear, change.slots = "all", {WHOLE_DAY: r}
            continue
        change.slots.pop(WHOLE_DAY, None)
        change.clear = change.clear or "day"
        change.slots[r.slot] = r
    return changes


def _clear(conn: Connection, changes: dict[DayKey, _DayChange]) -> None:
    t = usage_summary_totals.c
    whole = sorted(k for k, c in changes.items() if c.clear == "all")
    daily_only = sorted(k for k, c in changes.items() if c.clear == "day")
    for chunk in _chunks(whole):
        conn.execute(sa.delete(usage_summary_totals).where(_day_in(chunk)))
    for chunk in _chunks(daily_only):
        conn.execute(sa.delete(usage_summary_totals).where(_day_in(chunk), t.slot == WHOLE_DAY))


def _set_totals(conn: Connection, changes: dict[DayKey, _DayChange], *, now: datetime) -> None:
    rows = sorted(r for c in changes.values() for r in c.slots.values())
    values = [
        {
            "account_id": r.account_id,
            "metric": r.metric,
            "day": r.day,
            "slot": r.slot,
            "quantity": r.quantity,
            "events": r.events,
            "users": r.users,
            "summary_id": r.id,
            "updated_at": now,
        }
        for r in sorted(rows, key=lambda r: (r.account_id, r.metric, r.day, r.slot))
    ]
    if not values:
        return
    stmt = upsert_statement(conn, usage_summary_totals)
    replaced = {c: stmt.excluded[c] for c in ("quantity", "events", "users", "summary_id")}
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "metric", "day", "slot"],
            set_={**replaced, "updated_at": stmt.excluded.updated_at},
        ),
        values,
    )


def _roll_up(conn: Connection, keys: Sequence[DayKey]) -> None:
    """Set each day's rollup to the sum of its current totals, marked as summarized."""
    t = usage_summary_totals.c
    active = sa.case((t.quantity > 0, 1), else_=0)
    for chunk in _chunks(keys):
        totals = (
            sa.select(
                t.account_id,
                t.metric,
                t.day,
                sa.func.sum(t.quantity),
                sa.func.sum(sa.func.coalesce(t.events, active)),
                sa.literal(0),
                sa.literal(0),
                sa.true(),
            )
            .where(_day_in(chunk))
            .group_by(t.account_id, t.metric, t.day)
            .order_by(t.account_id, t.metric, t.day)
        )
        columns = ["account_id", "metric", "day", "quantity", "events", "successes", "failures"]
        stmt = upsert_statement(conn, usage_daily).from_select([*columns, "summarized"], totals)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["account_id", "metric", "day"],
                set_={c: stmt.excluded[c] for c in [*columns[3:], "summarized"]},
            )
        )


def _day_in(keys: Sequence[DayKey]) -> Any:
    t = usage_summary_totals.c
    return sa.tuple_(t.account_id, t.metric, t.day).in_(keys)


def _chunks(keys: Sequence[DayKey]) -> Iterable[Sequence[DayKey]]:
    return (keys[start : start + _CHUNK] for start in range(0, len(keys), _CHUNK))


def current_totals(conn: Connection, account_id: str) -> list[dict[str, Any]]:
    """The current summary totals of an account, by metric, day and slot (for reading back)."""
    t = usage_summary_totals.c
    query = (
        sa.select(t.metric, t.day, t.slot, t.quantity, t.events, t.users, t.summary_id)
        .where(t.account_id == account_id)
        .order_by(t.metric, t.day, t.slot)
    )
    return [dict(row._mapping) for row in conn.execute(query)]
