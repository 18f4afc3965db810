"""The outbox: every message Steward pushes, written before it is sent, sent exactly once.

A row is added with a unique key (platform, channel, kind, account, period): adding the
same key again adds nothing, so two workers composing the same digest enqueue it once.
A sender claims a due row with a lease (a conditional UPDATE: one process wins), posts
it and marks it sent with the platform's message id. A row whose lease ran out was
claimed before by a process that may have died after posting: its next claimer sees
``attempts > 1`` and looks for the message by its key before posting again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import message_actions, outbox

log = logging.getLogger(__name__)

ERROR_LENGTH = 500


def outbox_key(platform: str, channel: str, kind: str, account_id: str | None, period: str) -> str:
    """The unique key of a message: ``slack:C123:digest:-:2026-11-23``."""
    return ":".join((platform, channel, kind, account_id or "-", period))


@dataclass(frozen=True, slots=True)
class Message:
    """An outbox row as a sender or `steward outbox` sees it."""

    id: int
    key: str
    platform: str
    channel: str
    kind: str
    account_id: str | None
    period: str
    card: Mapping[str, Any]
    status: str
    attempts: int
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None = None
    message_channel: str | None = None
    message_id: str | None = None
    error: str | None = None
    deferrals: int = 0  # tries put off by a rate limit or an outage: not failures
    stale_at: datetime | None = None

    @property
    def deadline(self) -> datetime:
        """After this the message is not worth sending any more."""
        return self.stale_at or self.created_at + stale_after(self.kind)


_COLUMNS = tuple(outbox.c[name] for name in Message.__dataclass_fields__)


def enqueue(
    conn: Connection,
    *,
    platform: str,
    channel: str,
    kind: str,
    account_id: str | None,
    period: str,
    card: Mapping[str, Any],
    now: datetime,
    not_before: datetime | None = None,
) -> int | None:
    """Add a message unless its key is already there; return its id when this call added it.

    It goes stale :func:`stale_after` its first due time (quiet hours do not eat into it).
    """
    key = outbox_key(platform, channel, kind, account_id, period)
    due = not_before or now
    stmt = (
        upsert_statement(conn, outbox)
        .values(
            key=key,
            platform=platform,
            channel=channel,
            kind=kind,
            account_id=account_id,
            period=period,
            card=dict(card),
            status="pending",
            attempts=0,
            not_before=due,
            created_at=now,
            stale_at=due + stale_after(kind),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(outbox.c.id)
    )
    return conn.execute(stmt).scalar_one_or_none()


def queued_since(
    conn: Connection, *, platform: str, channel: str, kind: str, since: datetime
) -> int:
    """How many messages of a kind were queued to a channel since a moment."""
    o = outbox
    query = (
        sa.select(sa.func.count())
        .select_from(o)
        .where(
            o.c.platform == platform,
            o.c.channel == channel,
            o.c.kind == kind,
            o.c.created_at >= since,
        )
    )
    return int(conn.execute(query).scalar_one())


def exists(conn: Connection, key: str) -> bool:
    """Whether a message with this key was ever queued."""
    return conn.execute(sa.select(outbox.c.id).where(outbox.c.key == key)).first() is not None


def claim_due(
    conn: Connection, *, platform: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[Message]:
    """Claim pending messages that are due and not leased by a live sender, oldest first."""
    o = outbox.c
    free = sa.or_(o.lease_until.is_(None), o.lease_until < now)
    ids = conn.execute(
        sa.select(o.id)
        .where(o.platform == platform, o.status == "pending", o.not_before <= now, free)
        .order_by(o.not_before, o.id)
        .limit(limit)
    ).scalars()
    claimed = []
    for message_id in list(ids):
        taken = conn.execute(
            outbox.update()
            .where(o.id == message_id, o.status == "pending", free)
            .values(lease_until=now + lease, attempts=o.attempts + 1)
        )
        if taken.rowcount == 1:  # no other sender got there first
            claimed.append(message_id)
    if not claimed:
        return []
    rows = conn.execute(sa.select(*_COLUMNS).where(o.id.in_(claimed)).order_by(o.not_before, o.id))
    return [Message(**row._mapping) for row in rows]


def mark_sent(
    conn: Connection, message_id: int, *, channel: str, platform_id: str, now: datetime
) -> None:
    """Record that a message is on the platform, with the platform's id for it."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == message_id)
        .values(
            status="sent",
            sent_at=now,
            message_channel=channel,
            message_id=platform_id,
            lease_until=None,
            error=None,
        )
    )


def mark_failed(conn: Connection, message_id: int, *, error: str) -> None:
    """Stop trying a message; it stays, with its error, for `steward outbox`."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == message_id)
        .values(status="failed", lease_until=None, error=error[:ERROR_LENGTH])
    )


MAX_ATTEMPTS = 6  # a message refused this many times (for reasons not transient) fails
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
# Rate limits and outages are not failures: retried until the message goes stale.
DIGEST_STALE_AFTER = timedelta(hours=24)  # a digest is news for its day
ALERT_STALE_AFTER = timedelta(hours=6)  # an alert hours late is no alert
DEFER_FIRST = timedelta(seconds=5)  # after a server error or a lost connection, doubling...
DEFER_CAP = timedelta(minutes=5)  # ...up to this (a platform back in a minute is used then)
RATE_LIMIT_WAIT = timedelta(seconds=30)  # a 429 without Retry-After
JITTER = 0.2  # waits are spread by up to 20% so that senders do not retry in step

Cause = Literal["permanent", "rate_limited", "unavailable", "error"]


def stale_after(kind: str) -> timedelta:
    """How long after it is due a message of this kind is still worth sending."""
    return ALERT_STALE_AFTER if kind == "alert" else DIGEST_STALE_AFTER


def deferral_wait(cause: Cause, deferrals: int, retry_after: timedelta | None) -> timedelta:
    """The wait before the next try after a transient refusal (before jitter): Slack's or
    Teams' Retry-After when given, else doubling from DEFER_FIRST, capped at DEFER_CAP."""
    if retry_after is not None:
        return retry_after
    if cause == "rate_limited":
        return RATE_LIMIT_WAIT
    doubled: timedelta = DEFER_FIRST * 2 ** min(deferrals, 16)
    return min(doubled, DEFER_CAP)


def settle_failure(
    conn: Connection,
    message: Message,
    *,
    error: str,
    cause: Cause,
    retry_after: timedelta | None,
    now: datetime,
    jitter: Callable[[], float] = random.random,
) -> timedelta | None:
    """After a refused send: fail for good (return None) or queue again (return the wait);
    either way, say so in the log.

    - ``permanent`` (a channel that is gone, a token revoked, a refused audience) fails
      at once;
    - ``rate_limited`` and ``unavailable`` (5xx, a lost connection) are not failures:
      the message waits (Retry-After, else a doubling wait capped at DEFER_CAP, with up to
      20% jitter) and is tried again until its deadline, then kept as failed "stale";
    - any other ``error`` is retried on the BACKOFF steps, MAX_ATTEMPTS times in all.
    """
    if cause == "permanent":
        _fail(conn, message, error)
        return None
    transient = cause in ("rate_limited", "unavailable")
    counted = message.attempts - message.deferrals  # tries refused for other reasons
    if transient:
        wait = deferral_wait(cause, message.deferrals, retry_after) * (1 + JITTER * jitter())
    elif counted >= MAX_ATTEMPTS:
        _fail(conn, message, error)
        return None
    else:
        wait = retry_after or BACKOFF[min(max(counted, 1), len(BACKOFF)) - 1]
    if now + wait > message.deadline:
        late = f"stale: not sent by {message.deadline:%Y-%m-%d %H:%M} UTC; last error: {error}"
        _fail(conn, message, late)
        return None
    conn.execute(
        outbox.update()
        .where(outbox.c.id == message.id)
        .values(
            not_before=now + wait,
            lease_until=None,
            error=_waiting(error, cause, now + wait)[:ERROR_LENGTH],
            deferrals=outbox.c.deferrals + (1 if transient else 0),
        )
    )
    log.warning(
        "outbox %s to %s: %s; trying again in %ds",
        message.key,
        message.channel,
        error,
        wait.total_seconds(),
    )
    return wait


def _waiting(error: str, cause: Cause, at: datetime) -> str:
    """Why a message waits, in `steward outbox`'s words."""
    why = {
        "rate_limited": "rate limited",
        "unavailable": "platform unavailable",
        "error": "refused",
    }.get(cause, cause)
    return f"{why} ({error}); next try {at:%H:%M:%S} UTC"


def _fail(conn: Connection, message: Message, error: str) -> None:
    mark_failed(conn, message.id, error=error)
    log.warning("outbox %s to %s failed for good: %s", message.key, message.channel, error)
    return


def requeue(conn: Connection, message_ids: Sequence[int], *, now: datetime) -> list[int]:
    """Send failed messages again (`steward outbox --retry`); the ids queued again."""
    o = outbox.c
    failed = [
        int(i)
        for i in conn.scalars(
            sa.select(o.id).where(o.id.in_(list(message_ids)), o.status == "failed")
        )
    ]
    if failed:
        conn.execute(
            outbox.update()
            .where(o.id.in_(failed))
            .values(
                status="pending",
                not_before=now,
                attempts=0,
                deferrals=0,
                lease_until=None,
                # asked for by hand: due now, and stale as long after as a new message
                stale_at=sa.case(
                    (o.kind == "alert", now + ALERT_STALE_AFTER), else_=now + DIGEST_STALE_AFTER
                ),
            )
        )
    return sorted(failed)


def messages(
    conn: Connection,
    *,
    statuses: Sequence[str] | None = None,
    channel: str | None = None,
    limit: int = 50,
) -> list[Message]:
    """Messages, newest first, in the given statuses (every status by default)."""
    o = outbox.c
    query = sa.select(*_COLUMNS).order_by(o.created_at.desc(), o.id.desc()).limit(limit)
    if statuses:
        query = query.where(o.status.in_(list(statuses)))
    if channel:
        query = query.where(o.channel == channel)
    return [Message(**row._mapping) for row in conn.execute(query)]


def by_platform_id(conn: Connection, *, channel: str, platform_id: str) -> Message | None:
    """The sent message with this platform id (a click on it names channel and ts)."""
    o = outbox.c
    row = conn.execute(
        sa.select(*_COLUMNS).where(o.message_channel == channel, o.message_id == platform_id)
    ).first()
    return Message(**row._mapping) if row else None


def counts(conn: Connection) -> dict[str, int]:
    """How many messages are in each status."""
    return {status: n for status, (n, _) in depth(conn).items()}


def depth(conn: Connection) -> dict[str, tuple[int, datetime | None]]:
    """Per status: how many messages, and when the oldest of them was queued."""
    o = outbox.c
    rows = conn.execute(
        sa.select(o.status, sa.func.count(), sa.func.min(o.created_at)).group_by(o.status)
    )
    return {status: (int(n), oldest) for status, n, oldest in rows}  # aware: UTCDateTime


def prune_sent(conn: Connection, *, before: datetime) -> int:
    """Forget sent messages older than ``before`` (and the clicks on them); return how many."""
    o = outbox.c
    old = sa.select(o.id).where(o.status == "sent", o.sent_at < before)
    conn.execute(message_actions.delete().where(message_actions.c.outbox_id.in_(old)))
    return int(conn.execute(outbox.delete().where(o.id.in_(old))).rowcount)


@dataclass(frozen=True, slots=True)
class Click:
    """A stored click on a posted message."""

    action: str
    detail: str | None
    by: str
    by_name: str | None
    at: datetime


def add_click(
    conn: Connection,
    *,
    outbox_id: int | None,
    account_id: str | None,
    action: str,
    detail: str | None,
    by: str,
    by_name: str | None,
    platform: str,
    now: datetime,
) -> None:
    """Store who clicked what on which message, and when."""
    conn.execute(
        message_actions.insert().values(
            outbox_id=outbox_id,
            account_id=account_id,
            action=action,
            detail=detail,
            by=by,
            by_name=by_name,
            platform=platform,
            at=now,
        )
    )


def clicks(conn: Connection, outbox_id: int) -> list[Click]:
    """The clicks on one message, oldest first."""
    m = message_actions.c
    rows = conn.execute(
        sa.select(m.action, m.detail, m.by, m.by_name, m.at)
        .where(m.outbox_id == outbox_id)
        .order_by(m.at, m.id)
    )
    return [Click(**row._mapping) for row in rows]
