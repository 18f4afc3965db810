"""Pending replies: commands and clicks acknowledged but not yet answered, and snoozes.

A reply is written before the platform is acknowledged, claimed with a lease by the
process that answers it, and marked done (or failed) afterwards. A process that dies
between the two leaves the row pending with an expired lease: the next sweep claims
it again, or marks it expired once the platform no longer takes an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.tables import alert_snoozes, pending_replies

ERROR_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Reply:
    """A claimed reply: what to answer and how many times it was tried."""

    id: str
    platform: str
    kind: str
    payload: Mapping[str, Any]
    attempts: int
    received_at: datetime


def add_reply(
    conn: Connection,
    *,
    reply_id: str,
    platform: str,
    kind: str,
    payload: Mapping[str, Any],
    now: datetime,
    lease: timedelta,
) -> None:
    """Record a reply owed, already leased to the caller (who answers it at once)."""
    conn.execute(
        pending_replies.insert().values(
            id=reply_id,
            platform=platform,
            kind=kind,
            payload=dict(payload),
            status="pending",
            attempts=1,
            received_at=now,
            lease_until=now + lease,
        )
    )


def claim_stale(
    conn: Connection, *, platform: str, now: datetime, lease: timedelta, limit: int = 20
) -> list[Reply]:
    """Claim pending replies whose lease ran out (their process died), oldest first."""
    r = pending_replies.c
    rows = conn.execute(
        sa.select(r.id, r.platform, r.kind, r.payload, r.attempts, r.received_at)
        .where(r.platform == platform, r.status == "pending", r.lease_until < now)
        .order_by(r.received_at)
        .limit(limit)
    ).all()
    claimed = []
    for row in rows:
        taken = conn.execute(
            pending_replies.update()
            .where(r.id == row.id, r.status == "pending", r.lease_until < now)
            .values(lease_until=now + lease, attempts=r.attempts + 1)
        )
        if taken.rowcount == 1:  # another process did not get there first
            claimed.append(
                Reply(
                    row.id, row.platform, row.kind, row.payload, row.attempts + 1, row.received_at
                )
            )
    return claimed


def defer_reply(conn: Connection, reply_id: str, *, until: datetime, error: str) -> None:
    """Keep a reply owed: the platform could not take it just now. The sweep claims it
    again after ``until``; this try does not count towards the attempts (which count
    processes that died answering it)."""
    r = pending_replies.c
    conn.execute(
        pending_replies.update()
        .where(r.id == reply_id, r.status == "pending")
        .values(
            lease_until=until,
            attempts=sa.case((r.attempts > 0, r.attempts - 1), else_=0),
            error=error[:ERROR_LENGTH],
        )
    )


def finish_reply(
    conn: Connection,
    reply_id: str,
    *,
    now: datetime,
    status: str = "done",
    error: str | None = None,
) -> None:
    """Mark a reply done, failed (with the error) or expired."""
    conn.execute(
        pending_replies.update()
        .where(pending_replies.c.id == reply_id)
        .values(
            status=status,
            finished_at=now,
            lease_until=None,
            error=error[:ERROR_LENGTH] if error else None,
        )
    )


def reply_statuses(conn: Connection) -> dict[str, int]:
    """How many replies are in each status."""
    r = pending_replies.c
    rows = conn.execute(sa.select(r.status, sa.func.count()).group_by(r.status))
    return {status: int(n) for status, n in rows}


def prune_replies(conn: Connection, *, before: datetime) -> int:
    """Delete finished replies older than ``before``; return how many."""
    r = pending_replies.c
    result = conn.execute(
        pending_replies.delete().where(r.status != "pending", r.received_at < before)
    )
    return int(result.rowcount)


def add_snooze(
    conn: Connection,
    *,
    account_id: str,
    until: datetime,
    by: str,
    platform: str,
    now: datetime,
    kind: str = "*",
) -> None:
    """Mute alerts of an account (every kind by default) until a time."""
    conn.execute(
        alert_snoozes.insert().values(
            account_id=account_id,
            kind=kind,
            until=until,
            snoozed_by=by,
            platform=platform,
            created_at=now,
        )
    )
