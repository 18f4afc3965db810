"""Alert state: which conditions are open per account, which accounts changed, who took what.

Opening and resolving are conditional updates keyed by (account_id, key): when two
workers evaluate the same account, exactly one of them sees each change, and only
that one announces it (in the same transaction as it enqueues the message).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import account_changes, alert_snoozes, alert_states

IN_CHUNK = 500
EVIDENCE_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class State:
    """One alert condition of one account."""

    account_id: str
    key: str
    kind: str
    status: str  # open, resolved, event
    severity: str
    title: str
    evidence: str
    opened_at: datetime
    resolved_at: datetime | None = None
    notified_at: datetime | None = None
    last_notified_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    assigned_to: str | None = None
    assigned_at: datetime | None = None


_COLUMNS = tuple(alert_states.c[name] for name in State.__dataclass_fields__)


def mark_changed(conn: Connection, account_ids: Iterable[str], *, now: datetime) -> None:
    """Note that these accounts' data changed (ingestion calls this in its transaction)."""
    ids = sorted(set(account_ids))  # one order for every writer: no deadlocks
    if not ids:
        return
    stmt = upsert_statement(conn, account_changes)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id"], set_={"changed_at": stmt.excluded.changed_at}
    )
    conn.execute(stmt, [{"account_id": i, "changed_at": now} for i in ids])


def changed_accounts(conn: Connection, *, limit: int | None = None) -> dict[str, datetime]:
    """{account_id: changed_at} of accounts changed since alerts last evaluated them."""
    c = account_changes.c
    query = (
        sa.select(c.account_id, c.changed_at)
        .where(sa.or_(c.evaluated_at.is_(None), c.changed_at > c.evaluated_at))
        .order_by(c.changed_at, c.account_id)
    )
    if limit is not None:
        query = query.limit(limit)
    return {row.account_id: row.changed_at for row in conn.execute(query)}


def mark_evaluated(conn: Connection, seen: Mapping[str, datetime]) -> None:
    """Record that alerts evaluated these accounts as changed at the given times.

    A change noted after that time keeps the account in :func:`changed_accounts`.
    """
    if not seen:
        return
    c = account_changes.c
    conn.execute(
        account_changes.update()
        .where(c.account_id == sa.bindparam("id"))
        .values(evaluated_at=sa.bindparam("seen")),
        [{"id": account_id, "seen": at} for account_id, at in sorted(seen.items())],
    )


def evaluated_since(conn: Connection, moment: datetime) -> set[str]:
    """Accounts the real-time pass evaluated after ``moment``."""
    c = account_changes.c
    rows = conn.execute(sa.select(c.account_id).where(c.evaluated_at > moment))
    return {row.account_id for row in rows}


def ever_evaluated(conn: Connection) -> bool:
    """Whether alerts have ever evaluated any account (the first pass is a silent baseline)."""
    found = conn.execute(sa.select(alert_states.c.account_id).limit(1)).first()
    if found is not None:
        return True
    c = account_changes.c
    return (
        conn.execute(sa.select(c.account_id).where(c.evaluated_at.is_not(None)).limit(1)).first()
        is not None
    )


def states_of(conn: Connection, account_ids: Sequence[str]) -> dict[str, dict[str, State]]:
    """{account_id: {key: state}} for the accounts named."""
    found: dict[str, dict[str, State]] = {}
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        query = sa.select(*_COLUMNS).where(alert_states.c.account_id.in_(chunk))
        for row in conn.execute(query):
            found.setdefault(row.account_id, {})[row.key] = State(**row._mapping)
    return found


def open_states(conn: Connection, account_ids: Sequence[str] | None = None) -> list[State]:
    """Open alerts (of the accounts named, or all), oldest first."""
    a = alert_states.c
    query = sa.select(*_COLUMNS).where(a.status == "open").order_by(a.opened_at, a.account_id)
    if account_ids is not None:
        query = query.where(a.account_id.in_(sorted(set(account_ids))))
    return [State(**row._mapping) for row in conn.execute(query)]


def open_alert(
    conn: Connection,
    *,
    account_id: str,
    key: str,
    kind: str,
    severity: str,
    title: str,
    evidence: str,
    now: datetime,
    notify: bool,
    status: str = "open",
) -> bool:
    """Open a condition that is not open; return whether this call opened it.

    A resolved condition is reopened as a new episode (its acknowledgement cleared).
    """
    values = {
        "kind": kind,
        "status": status,
        "severity": severity,
        "title": title,
        "evidence": evidence[:EVIDENCE_LENGTH],
        "opened_at": now,
        "resolved_at": None,
        "notified_at": now if notify else None,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "assigned_to": None,
        "assigned_at": None,
    }
    a = alert_states.c
    reopened = conn.execute(
        alert_states.update()
        .where(a.account_id == account_id, a.key == key, a.status == "resolved")
        .values(**values, last_notified_at=now if notify else a.last_notified_at)
    )
    if reopened.rowcount == 1:
        return True
    inserted = conn.execute(
        upsert_statement(conn, alert_states)
        .values(account_id=account_id, key=key, last_notified_at=now if notify else None, **values)
        .on_conflict_do_nothing(index_elements=["account_id", "key"])
        .returning(alert_states.c.key)  # rowcount is not reliable for INSERTs on psycopg
    )
    return inserted.first() is not None


def resolve_alert(conn: Connection, *, account_id: str, key: str, now: datetime) -> bool:
    """Close an open condition; return whether this call closed it."""
    a = alert_states.c
    result = conn.execute(
        alert_states.update()
        .where(a.account_id == account_id, a.key == key, a.status == "open")
        .values(status="resolved", resolved_at=now)
    )
    return bool(result.rowcount == 1)


def take(
    conn: Connection,
    *,
    account_id: str,
    by: str,
    now: datetime,
    acknowledge: bool = False,
    assign: bool = False,
) -> int:
    """Acknowledge and/or assign every open alert of an account; return how many."""
    values: dict[str, object] = {}
    if acknowledge:
        values.update(acknowledged_by=by, acknowledged_at=now)
    if assign:
        values.update(assigned_to=by, assigned_at=now)
    a = alert_states.c
    result = conn.execute(
        alert_states.update().where(a.account_id == account_id, a.status == "open").values(**values)
    )
    return int(result.rowcount)


def snoozed(
    conn: Connection, account_ids: Sequence[str] | None, *, now: datetime
) -> dict[str, datetime]:
    """{account_id: until} for the accounts (or all) whose alerts are snoozed now."""
    s = alert_snoozes.c
    running = (
        sa.select(s.account_id, sa.func.max(s.until))
        .where(s.kind == "*", s.until > now)
        .group_by(s.account_id)
    )
    if account_ids is None:
        return {row[0]: row[1] for row in conn.execute(running)}
    found: dict[str, datetime] = {}
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = running.where(s.account_id.in_(wanted[start : start + IN_CHUNK]))
        found.update({row[0]: row[1] for row in conn.execute(chunk)})
    return found
