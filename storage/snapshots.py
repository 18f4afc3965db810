"""What the signals write: the daily health snapshots, and reading them back.

Functions take a connection; callers own transactions. A snapshot is one account's
health on one day, keyed by (account_id, day): writing one again replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date, datetime
from itertools import islice
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from signals.model import Snapshot
from storage.dialect import upsert_statement
from storage.tables import accounts, health_snapshots

WRITE_CHUNK = 1000  # snapshots per executemany
IN_CHUNK = 500  # ids per IN (...) list

_SNAPSHOT_FIELDS = tuple(f.name for f in fields(Snapshot))
_SNAPSHOT_COLUMNS = tuple(health_snapshots.c[name] for name in _SNAPSHOT_FIELDS)
_SNAPSHOT_KEY = ("account_id", "day")

AnyRow: TypeAlias = sa.Row[*tuple[Any, ...]]


def write_snapshots(
    conn: Connection, snapshots: Iterable[Snapshot], *, computed_at: datetime
) -> int:
    """Insert or replace snapshots by (account_id, day); return how many were written.

    Within a chunk of WRITE_CHUNK, a later snapshot of the same account and day wins.
    """
    stmt = upsert_statement(conn, health_snapshots)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_SNAPSHOT_KEY),
        set_={
            column.name: stmt.excluded[column.name]
            for column in health_snapshots.c
            if column.name not in _SNAPSHOT_KEY
        },
    )
    written = 0
    iterator = iter(snapshots)
    while chunk := list(islice(iterator, WRITE_CHUNK)):
        rows = {(s.account_id, s.day): _snapshot_row(s, computed_at) for s in chunk}
        conn.execute(stmt, [rows[key] for key in sorted(rows)])  # key order: no deadlocks
        written += len(chunk)
    return written


def _snapshot_row(snapshot: Snapshot, computed_at: datetime) -> dict[str, Any]:
    row = {name: getattr(snapshot, name) for name in _SNAPSHOT_FIELDS}
    row.update(
        components=dict(snapshot.components),
        flags=list(snapshot.flags),
        reasons=list(snapshot.reasons),
        detail=dict(snapshot.detail),
        computed_at=computed_at,
    )
    return row


def snapshots_on(
    conn: Connection, *, day: date, account_ids: Sequence[str] | None = None
) -> dict[str, Snapshot]:
    """{account_id: snapshot} of one day, for every account or those named."""
    query = sa.select(*_SNAPSHOT_COLUMNS).where(health_snapshots.c.day == day)
    if account_ids is None:
        return _snapshots_by_account(conn, query)
    found: dict[str, Snapshot] = {}
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        found.update(
            _snapshots_by_account(conn, query.where(health_snapshots.c.account_id.in_(chunk)))
        )
    return found


def latest_snapshots_before(conn: Connection, *, day: date) -> dict[str, Snapshot]:
    """{account_id: its most recent snapshot from before ``day``}, for accounts that have one.

    Goes through the accounts table: one index look-up per account rather than a scan of
    every snapshot (snapshots of an id missing from ``accounts`` are not found).
    """
    if conn.dialect.name == "postgresql":
        return _snapshots_by_account(conn, _latest_lateral(day))
    return _snapshots_by_account(conn, _latest_correlated(day))


def _latest_lateral(day: date) -> sa.Select[Any]:
    """PostgreSQL: per account, the first row of a backward index scan (LATERAL ... LIMIT 1)."""
    h = health_snapshots
    latest = (
        sa.select(*_SNAPSHOT_COLUMNS)
        .where(h.c.account_id == accounts.c.id, h.c.day < day)
        .order_by(h.c.day.desc())
        .limit(1)
        .lateral("latest")
    )
    return sa.select(latest).select_from(accounts).join(latest, sa.true())


def _latest_correlated(day: date) -> sa.Select[Any]:
    """SQLite: per account, max(day) by the key's prefix, then that row by its key.

    The outer join keeps accounts as the outer loop (SQLite has no LATERAL, and its
    planner, without statistics, would otherwise scan every snapshot); accounts
    without a snapshot come out as rows of NULLs, which the caller drops.
    """
    h = health_snapshots
    earlier = h.alias("earlier")
    last_day = (
        sa.select(sa.func.max(earlier.c.day))
        .where(earlier.c.account_id == accounts.c.id, earlier.c.day < day)
        .scalar_subquery()
    )
    return (
        sa.select(*_SNAPSHOT_COLUMNS)
        .select_from(accounts)
        .outerjoin(h, sa.and_(h.c.account_id == accounts.c.id, h.c.day == last_day))
    )


def snapshot_history(
    conn: Connection, *, account_id: str, since: date, until: date
) -> list[Snapshot]:
    """One account's snapshots from ``since`` to ``until`` (both inclusive), oldest first."""
    h = health_snapshots.c
    query = (
        sa.select(*_SNAPSHOT_COLUMNS)
        .where(h.account_id == account_id, h.day >= since, h.day <= until)
        .order_by(h.day)
    )
    return [_snapshot(row) for row in conn.execute(query)]


def _snapshots_by_account(conn: Connection, query: sa.Select[Any]) -> dict[str, Snapshot]:
    return {
        row.account_id: _snapshot(row) for row in conn.execute(query) if row.account_id is not None
    }


def _snapshot(row: AnyRow) -> Snapshot:
    values = dict(row._mapping)
    values.update(flags=tuple(values["flags"]), reasons=tuple(values["reasons"]))
    return Snapshot(**values)


def latest_day(conn: Connection) -> date | None:
    """The most recent day any account was scored, if any."""
    return conn.execute(sa.select(sa.func.max(health_snapshots.c.day))).scalar_one_or_none()


def top_snapshots(
    conn: Connection,
    *,
    day: date,
    by: str,
    descending: bool = True,
    limit: int = 10,
    account_ids: Sequence[str] | None = None,
) -> list[Snapshot]:
    """The ``limit`` snapshots of one day ranked by a column (churn_risk, score, ...)."""
    column = health_snapshots.c[by]
    query = sa.select(*_SNAPSHOT_COLUMNS).where(health_snapshots.c.day == day)
    if account_ids is not None:
        query = query.where(health_snapshots.c.account_id.in_(sorted(set(account_ids))))
    order = column.desc() if descending else column.asc()
    query = query.order_by(order, health_snapshots.c.account_id).limit(limit)
    return [_snapshot(row) for row in conn.execute(query)]


def count_on(conn: Connection, *, day: date) -> dict[str, int]:
    """How many accounts of one day's snapshots are in each band."""
    h = health_snapshots.c
    rows = conn.execute(sa.select(h.band, sa.func.count()).where(h.day == day).group_by(h.band))
    return {band: int(n) for band, n in rows}
