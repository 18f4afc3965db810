"""The hot path of ingestion: bulk statements written for each database's fastest form.

SQLAlchemy Core spends ~20 µs per row preparing parameters, more than the database
spends storing it. Here rows go to the driver as plain tuples: on SQLite through one
``executemany``; on PostgreSQL as one statement over ``unnest`` of arrays, so a batch
costs one round trip whatever its size. Every function runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from storage.rollups import BreakdownKey, DailyKey, Totals

EVENT_COLUMNS = (
    "id",
    "account_id",
    "metric",
    "ts",
    "quantity",
    "user_id",
    "feature",
    "team",
    "success",
    "properties",
    "received_at",
)
_SQLITE_CHUNK = 900  # ids per IN (...) query, well under SQLite's parameter limit


def _sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC), so both read alike."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def insert_new_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert event rows whose id is not stored yet; return the ids inserted."""
    if conn.dialect.name == "postgresql":
        return _pg_insert_events(conn, rows)
    return _sqlite_insert_events(conn, rows)


def _sqlite_insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    # The transaction began IMMEDIATE, so no other writer can insert between this
    # look-up and the insert below.
    ids = [r["id"] for r in rows]
    existing: set[str] = set()
    for start in range(0, len(ids), _SQLITE_CHUNK):
        chunk = ids[start : start + _SQLITE_CHUNK]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT id FROM usage_events WHERE id IN ({marks})"  # noqa: S608
        result = conn.exec_driver_sql(query, tuple(chunk))
        existing.update(row[0] for row in result)
    new = [r for r in rows if r["id"] not in existing]
    if new:
        marks = ",".join("?" * len(EVENT_COLUMNS))
        conn.exec_driver_sql(
            f"INSERT INTO usage_events ({','.join(EVENT_COLUMNS)}) VALUES ({marks})",  # noqa: S608
            [
                (
                    r["id"],
                    r["account_id"],
                    r["metric"],
                    _sqlite_time(r["ts"]),
                    r["quantity"],
                    r["user_id"],
                    r["feature"],
                    r["team"],
                    r["success"],
                    _json(r["properties"]),
                    _sqlite_time(r["received_at"]),
                )
                for r in new
            ],
        )
    return {r["id"] for r in new}


def _pg_insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    columns = [[r[name] for r in rows] for name in EVENT_COLUMNS[:-1]]
    columns[9] = [_json(value) for value in columns[9]]
    sql = (
        f"INSERT INTO usage_events ({','.join(EVENT_COLUMNS)}) "  # noqa: S608
        "SELECT id, account_id, metric, ts, quantity, user_id, feature, team, success, "
        "properties::json, %s FROM unnest(%s::text[], %s::text[], %s::text[], "
        "%s::timestamptz[], %s::float8[], %s::text[], %s::text[], %s::text[], %s::bool[], "
        "%s::text[]) AS t(id, account_id, metric, ts, quantity, user_id, feature, team, "
        "success, properties) ORDER BY id ON CONFLICT (id) DO NOTHING RETURNING id"
    )
    result = conn.exec_driver_sql(sql, (rows[0]["received_at"], *columns))
    return {row[0] for row in result}


def ensure_accounts(conn: Connection, account_ids: Sequence[str], *, now: datetime) -> None:
    """Create placeholder accounts (named by their id) for ids not yet known, in id order."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, name, is_placeholder, created_at, updated_at) "
            "SELECT id, id, true, %s, %s FROM unnest(%s::text[]) AS t(id) "
            "ON CONFLICT (id) DO NOTHING",
            (now, now, ids),
        )
        return
    stamp = _sqlite_time(now)
    conn.exec_driver_sql(
        "INSERT INTO accounts (id, name, is_placeholder, created_at, updated_at) "
        "VALUES (?, ?, 1, ?, ?) ON CONFLICT (id) DO NOTHING",
        [(i, i, stamp, stamp) for i in ids],
    )


_COUNTERS = ("quantity", "events", "successes", "failures")


def add_daily(conn: Connection, totals: dict[DailyKey, Totals]) -> None:
    """Add totals to usage_daily, creating rows as needed, in key order."""
    keys = ("account_id", "metric", "day")
    _add(conn, "usage_daily", keys, ("text", "text", "date"), sorted(totals.items()))


def add_breakdown(conn: Connection, totals: dict[BreakdownKey, Totals]) -> None:
    """Add totals to usage_daily_breakdown (feature, team and user), in key order."""
    keys = ("account_id", "metric", "day", "dimension", "value")
    types = ("text", "text", "date", "text", "text")
    _add(conn, "usage_daily_breakdown", keys, types, sorted(totals.items()))


def _add(
    conn: Connection,
    table: str,
    keys: tuple[str, ...],
    key_types: tuple[str, ...],
    items: list[tuple[tuple[Any, ...], Totals]],
) -> None:
    if not items:
        return
    columns = ",".join((*keys, *_COUNTERS))
    conflict = ",".join(keys)
    updates = ",".join(f"{c} = {table}.{c} + excluded.{c}" for c in _COUNTERS)
    tuples = [(*key, t.quantity, t.events, t.successes, t.failures) for key, t in items]
    if conn.dialect.name == "postgresql":
        types = (*key_types, "float8", "int", "int", "int")
        arrays = [list(column) for column in zip(*tuples, strict=True)]
        unnest = ", ".join(f"%s::{t}[]" for t in types)
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({unnest}) "  # noqa: S608
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
            tuple(arrays),
        )
        return
    marks = ",".join("?" * (len(keys) + len(_COUNTERS)))
    rows = [(*row[:2], row[2].isoformat(), *row[3:]) for row in tuples]  # row[2] is the day
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
        rows,
    )
