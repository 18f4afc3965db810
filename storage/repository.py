"""Reads and writes of ingested data; functions take a connection, callers own transactions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import bulk
from storage.dialect import upsert_statement
from storage.tables import (
    accounts,
    contracts,
    support_tickets,
    usage_daily,
    webhook_deliveries,
)


@dataclass(frozen=True)
class Row:
    """One record to upsert: all its column values, and which of them the sender gave."""

    values: dict[str, Any]
    given: frozenset[str]


@dataclass(frozen=True)
class PriorDelivery:
    """A delivery already stored under the same key."""

    body_sha256: str
    result: dict[str, Any]


def claim_delivery(
    conn: Connection, *, endpoint: str, delivery_id: str, body_sha256: str, now: datetime
) -> PriorDelivery | None:
    """Record a delivery as seen, in the caller's transaction; return the earlier one if any.

    On PostgreSQL a concurrent claim of the same id waits for the first transaction,
    then sees its committed row.
    """
    stmt = (
        upsert_statement(conn, webhook_deliveries)
        .values(
            endpoint=endpoint, id=delivery_id, body_sha256=body_sha256, received_at=now, result={}
        )
        .on_conflict_do_nothing(index_elements=["endpoint", "id"])
        .returning(webhook_deliveries.c.id)
    )
    if conn.execute(stmt).first() is not None:
        return None
    prior = conn.execute(
        sa.select(webhook_deliveries.c.body_sha256, webhook_deliveries.c.result).where(
            webhook_deliveries.c.endpoint == endpoint, webhook_deliveries.c.id == delivery_id
        )
    ).one()
    return PriorDelivery(body_sha256=prior.body_sha256, result=dict(prior.result))


def finish_delivery(
    conn: Connection, *, endpoint: str, delivery_id: str, result: Mapping[str, Any]
) -> None:
    """Keep the answer given to a delivery, so that a retry gets the same answer."""
    conn.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint == endpoint, webhook_deliveries.c.id == delivery_id)
        .values(result=dict(result))
    )


def set_account_fields(
    conn: Connection, account_id: str, fields: Mapping[str, Any], *, now: datetime
) -> None:
    """Set some CRM fields of an account (which exists), leaving the others as they are."""
    if fields:
        conn.execute(
            sa.update(accounts).where(accounts.c.id == account_id).values(**fields, updated_at=now)
        )


def prune_deliveries(conn: Connection, *, before: datetime, batch: int = 5_000) -> int:
    """Forget up to ``batch`` deliveries received before ``before`` (oldest first); return
    how many. Events keep their own ids for ever, so a delivery re-sent after this is
    answered as new and its events are still duplicates."""
    d = webhook_deliveries.c
    oldest = (
        sa.select(d.endpoint, d.id)
        .where(d.received_at < before)
        .order_by(d.received_at)
        .limit(batch)
        .subquery()
    )
    gone = conn.execute(
        webhook_deliveries.delete().where(
            sa.tuple_(d.endpoint, d.id).in_(sa.select(oldest.c.endpoint, oldest.c.id))
        )
    )
    return int(gone.rowcount)


def ensure_accounts(conn: Connection, account_ids: Iterable[str], *, now: datetime) -> None:
    """Create a placeholder account (named by its id) for every id not yet known."""
    bulk.ensure_accounts(conn, list(account_ids), now=now)


def insert_events(conn: Connection, rows: Sequence[bulk.EventRow], *, now: datetime) -> int:
    """Store the events whose id is new, with their accounts and rollups; return how many.

    Rows go in id order, so concurrent batches sharing ids wait on each other
    instead of deadlocking.
    """
    return bulk.store_events(conn, sorted(rows), now=now)


def upsert(conn: Connection, table: sa.Table, rows: Sequence[Row], *, now: datetime) -> None:
    """Insert rows, or update only the columns the sender gave for ids already stored."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row.given].append({**row.values, "created_at": now, "updated_at": now})
    for given, group in groups.items():
        stmt = upsert_statement(conn, table)
        changed = {name: stmt.excluded[name] for name in given if name != "id"}
        changed["updated_at"] = stmt.excluded.updated_at
        if table is accounts:
            changed["is_placeholder"] = sa.false()
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=changed)
        conn.execute(stmt, sorted(group, key=lambda r: r["id"]))


UPSERT_TABLES: dict[str, sa.Table] = {
    "accounts": accounts,
    "contracts": contracts,
    "tickets": support_tickets,
}


def get_account(conn: Connection, account_id: str) -> dict[str, Any] | None:
    """Return the stored account as a plain dict, or None."""
    row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).mappings().first()
    return dict(row) if row is not None else None


def daily_usage(
    conn: Connection, account_id: str, *, start: date, end: date, metric: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Return {metric: [{date, quantity, events}, ...]} for days with usage in [start, end]."""
    query = (
        sa.select(
            usage_daily.c.metric, usage_daily.c.day, usage_daily.c.quantity, usage_daily.c.events
        )
        .where(
            usage_daily.c.account_id == account_id,
            usage_daily.c.day >= start,
            usage_daily.c.day <= end,
        )
        .order_by(usage_daily.c.metric, usage_daily.c.day)
    )
    if metric is not None:
        query = query.where(usage_daily.c.metric == metric)
    series: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        series.setdefault(row.metric, []).append(
            {"date": row.day.isoformat(), "quantity": row.quantity, "events": row.events}
        )
    return series


def account_names(conn: Connection) -> dict[str, str]:
    """Every account's display name by id."""
    return dict(conn.execute(sa.select(accounts.c.id, accounts.c.name)).all())


def accounts_version(conn: Connection) -> tuple[int, datetime | None]:
    """How many accounts there are and when one last changed: a cache key for their names."""
    a = accounts.c
    row = conn.execute(sa.select(sa.func.count(), sa.func.max(a.updated_at))).one()
    return int(row[0]), row[1]


def count_accounts(conn: Connection) -> int:
    """How many accounts there are."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one())


@dataclass(frozen=True)
class Owned:
    """An account in someone's book."""

    id: str
    name: str
    segment: str | None
    arr: float | None
    role: str  # "csm" or "ae"


def accounts_owned_by(conn: Connection, owners: Iterable[str]) -> list[Owned]:
    """Accounts whose CSM or AE is any of ``owners`` (ids, emails or names; any case)."""
    wanted = sorted({o.strip().lower() for o in owners if o and o.strip()})
    if not wanted:
        return []
    a = accounts.c
    query = sa.select(a.id, a.name, a.segment, a.arr, a.csm, a.ae).where(
        sa.or_(sa.func.lower(a.csm).in_(wanted), sa.func.lower(a.ae).in_(wanted))
    )
    found = []
    for row in conn.execute(query.order_by(a.name)):
        role = "csm" if row.csm and row.csm.lower() in wanted else "ae"
        found.append(Owned(row.id, row.name, row.segment, row.arr, role))
    return found


@dataclass(frozen=True, slots=True)
class Routing:
    """What decides where an account's news goes: its name, owners and segment."""

    id: str
    name: str
    csm: str | None
    ae: str | None
    segment: str | None


def account_routing(conn: Connection) -> dict[str, Routing]:
    """Every account's name, CSM, AE and segment, by id."""
    a = accounts.c
    rows = conn.execute(sa.select(a.id, a.name, a.csm, a.ae, a.segment))
    return {row.id: Routing(row.id, row.name, row.csm, row.ae, row.segment) for row in rows}


def mark_churned(conn: Connection, ends: Mapping[str, date]) -> list[str]:
    """Set churned_date for each account whose last contract ended that day; which were set.

    An account with another contract running past that day, or a churn date already
    recorded, is left as it is.
    """
    marked = []
    for account_id, day in sorted(ends.items()):
        running = sa.select(contracts.c.id).where(
            contracts.c.account_id == account_id, contracts.c.end_date > day
        )
        done = conn.execute(
            sa.update(accounts)
            .where(
                accounts.c.id == account_id,
                accounts.c.churned_date.is_(None),
                ~sa.exists(running),
            )
            .values(churned_date=day)
        )
        if done.rowcount:
            marked.append(account_id)
    return marked


def renewals_between(
    conn: Connection, account_ids: Sequence[str], start: date, end: date
) -> list[tuple[str, date]]:
    """The accounts among these whose latest contract ending in [start, end] ends when,
    soonest first."""
    if not account_ids:
        return []
    c = contracts.c
    last = sa.func.max(c.end_date)
    rows = conn.execute(
        sa.select(c.account_id, last)
        .where(c.account_id.in_(list(account_ids)), c.end_date >= start, c.end_date <= end)
        .group_by(c.account_id)
        .order_by(last)
    )
    return [(str(account_id), ended) for account_id, ended in rows]
