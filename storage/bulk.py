"""The hot path of ingestion: events and their rollups, in each database's fastest form.

Rows reach the driver as plain tuples (SQLAlchemy Core spends more time preparing a
row than the database spends storing it), and the daily rollups are summed by the
database itself, from exactly the rows this transaction inserted, so that a rollup
always equals the raw events behind it (except on a day that holds a usage summary,
whose total is the summary's; see :mod:`storage.summaries`):

- SQLite: the transaction holds the write lock (BEGIN IMMEDIATE); ids already stored
  are looked up, the new rows go in with one ``executemany``, and the rollups are
  summed from the rows whose rowid is above the largest one before the insert.
- PostgreSQL: the rows are COPYed into a temporary staging table, and one statement
  inserts them (``ON CONFLICT DO NOTHING``) and feeds the rows it actually inserted
  (``RETURNING``) to the rollup upserts. A concurrent transaction inserting the same
  ids waits for this one, then skips them.

Rows are written in key order, so concurrent batches cannot deadlock. Every function
runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy.engine import Connection


class EventRow(NamedTuple):
    """One usage_events row, as it is written (received_at is added when it is stored)."""

    id: str
    account_id: str
    metric: str
    ts: datetime
    quantity: float
    user_id: str | None
    feature: str | None
    team: str | None
    success: bool | None
    properties: dict[str, Any] | None


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
_COLUMN_LIST = ", ".join(EVENT_COLUMNS)
_SQLITE_CHUNK = 900  # ids per IN (...) query, under SQLite's parameter limit
_COUNTERS = "quantity, events, successes, failures"
_ADD_COUNTERS = (
    "quantity = {t}.quantity + excluded.quantity, events = {t}.events + excluded.events, "
    "successes = {t}.successes + excluded.successes, failures = {t}.failures + excluded.failures"
)
# A day holding a usage summary keeps the summary's total (storage/summaries.py).
_ADD_TO_DAILY = _ADD_COUNTERS.format(t="usage_daily") + " WHERE NOT usage_daily.summarized"
_DAILY_KEY = "account_id, metric, day"
_BREAKDOWN_KEY = "account_id, metric, day, dimension, value"


def store_events(conn: Connection, rows: Sequence[EventRow], *, now: datetime) -> int:
    """Store event rows not stored before, with placeholder accounts and rollups.

    Args:
        rows: usage_events rows with distinct ids, sorted by id.
        now: the time of receipt (also the creation time of placeholder accounts).

    Returns:
        How many rows were new.
    """
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return _pg_store(conn, rows, now=now)
    return _sqlite_store(conn, rows, now=now)


def ensure_accounts(conn: Connection, account_ids: Sequence[str], *, now: datetime) -> None:
    """Create a placeholder account (named by its id) for every id not yet known, in id order."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, name, is_placeholder, created_at, updated_at) "
            "SELECT id, id, true, %s, %s FROM unnest(%s::text[]) AS t(id) ORDER BY id "
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


def _sqlite_time(moment: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC), so both read alike."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _sqlite_store(conn: Connection, rows: Sequence[EventRow], *, now: datetime) -> int:
    existing = _sqlite_existing_ids(conn, [r.id for r in rows])
    new = [r for r in rows if r.id not in existing] if existing else rows
    if not new:
        return 0
    stamp = _sqlite_time(now)
    ensure_accounts(conn, [r.account_id for r in new], now=now)
    before = conn.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM usage_events").scalar()
    marks = ", ".join("?" * len(EVENT_COLUMNS))
    conn.exec_driver_sql(
        f"INSERT INTO usage_events ({_COLUMN_LIST}) VALUES ({marks})",  # noqa: S608
        [(*r[:3], _sqlite_time(r.ts), *r[4:9], _json(r.properties), stamp) for r in new],
    )
    conn.exec_driver_sql(_SQLITE_DAILY, (before,))
    conn.exec_driver_sql(_SQLITE_BREAKDOWN, (before,))
    return len(new)


def _sqlite_existing_ids(conn: Connection, ids: list[str]) -> set[str]:
    # Under the write lock no other writer can insert between this look-up and the insert.
    existing: set[str] = set()
    for start in range(0, len(ids), _SQLITE_CHUNK):
        chunk = ids[start : start + _SQLITE_CHUNK]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT id FROM usage_events WHERE id IN ({marks})"  # noqa: S608
        existing.update(row[0] for row in conn.exec_driver_sql(query, tuple(chunk)))
    return existing


_SQLITE_NEW = "SELECT * FROM usage_events WHERE rowid > ?1"
_SQLITE_DAILY = f"""
INSERT INTO usage_daily ({_DAILY_KEY}, {_COUNTERS})
SELECT account_id, metric, substr(ts, 1, 10), sum(quantity), count(*),
       count(CASE WHEN success THEN 1 END), count(CASE WHEN NOT success THEN 1 END)
FROM ({_SQLITE_NEW}) WHERE true
GROUP BY account_id, metric, substr(ts, 1, 10) ORDER BY 1, 2, 3
ON CONFLICT ({_DAILY_KEY}) DO UPDATE SET {_ADD_TO_DAILY}
"""  # noqa: S608 - constants only
_SQLITE_BREAKDOWN = f"""
INSERT INTO usage_daily_breakdown ({_BREAKDOWN_KEY}, {_COUNTERS})
SELECT account_id, metric, substr(ts, 1, 10), dimension, value, sum(quantity), count(*),
       count(CASE WHEN success THEN 1 END), count(CASE WHEN NOT success THEN 1 END)
FROM (
    SELECT account_id, metric, ts, quantity, success, 'feature' AS dimension, feature AS value
    FROM ({_SQLITE_NEW}) WHERE feature IS NOT NULL
    UNION ALL
    SELECT account_id, metric, ts, quantity, success, 'team', team
    FROM ({_SQLITE_NEW}) WHERE team IS NOT NULL
    UNION ALL
    SELECT account_id, metric, ts, quantity, success, 'user', user_id
    FROM ({_SQLITE_NEW}) WHERE user_id IS NOT NULL
) WHERE true
GROUP BY account_id, metric, substr(ts, 1, 10), dimension, value ORDER BY 1, 2, 3, 4, 5
ON CONFLICT ({_BREAKDOWN_KEY}) DO UPDATE SET {_ADD_COUNTERS.format(t="usage_daily_breakdown")}
"""  # noqa: S608 - constants only


def _pg_store(conn: Connection, rows: Sequence[EventRow], *, now: datetime) -> int:
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS steward_stage "
        "(LIKE usage_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    raw: Any = conn.connection.dbapi_connection  # psycopg.Connection, in this transaction
    copy_sql = f"COPY steward_stage ({_COLUMN_LIST}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for r in rows:
            copy.write_row((*r[:9], _json(r.properties), now))
    ensure_accounts(conn, [r.account_id for r in rows], now=now)
    inserted = conn.exec_driver_sql(_PG_EVENTS).scalar()
    return int(inserted or 0)


_PG_DAY = "(ts AT TIME ZONE 'UTC')::date"
_PG_SUCCESSES = "count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success)"
_PG_EVENTS = f"""
WITH new AS (
    INSERT INTO usage_events ({_COLUMN_LIST})
    SELECT {_COLUMN_LIST} FROM steward_stage ORDER BY id
    ON CONFLICT (id) DO NOTHING
    RETURNING account_id, metric, ts, quantity, user_id, feature, team, success
), daily AS (
    INSERT INTO usage_daily ({_DAILY_KEY}, {_COUNTERS})
    SELECT account_id, metric, {_PG_DAY}, sum(quantity), count(*), {_PG_SUCCESSES}
    FROM new GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT ({_DAILY_KEY}) DO UPDATE SET {_ADD_TO_DAILY}
), breakdown AS (
    INSERT INTO usage_daily_breakdown ({_BREAKDOWN_KEY}, {_COUNTERS})
    SELECT account_id, metric, {_PG_DAY}, d.dimension, d.value, sum(quantity), count(*),
           {_PG_SUCCESSES}
    FROM new CROSS JOIN LATERAL (
        VALUES ('feature', feature), ('team', team), ('user', user_id)
    ) AS d(dimension, value)
    WHERE d.value IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT ({_BREAKDOWN_KEY}) DO UPDATE
    SET {_ADD_COUNTERS.format(t="usage_daily_breakdown")}
)
SELECT count(*) FROM new
"""  # noqa: S608 - constants only
