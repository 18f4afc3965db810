"""Subscriptions: which channel gets digests, manager digests or alerts, for which accounts.

A channel has at most one subscription of each kind on a platform: subscribing again
updates it in place (an INSERT .. ON CONFLICT DO UPDATE on (platform, channel, kind)).
Times are local ``HH:MM`` strings in the subscription's IANA time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import accounts, subscriptions

KINDS = ("digest", "alerts", "manager")
SCOPES = ("all", "book", "segment", "tier", "follows")
_UPDATED_ON_CONFLICT = (
    "scope",
    "scope_value",
    "owner_handles",
    "at_time",
    "timezone",
    "weekdays_only",
    "quiet_start",
    "quiet_end",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class Sub:
    """One stored subscription, as the table has it."""

    id: int
    platform: str
    channel: str
    kind: str  # digest, alerts, manager
    scope: str  # all, book, segment, tier
    scope_value: str | None
    owner_handles: tuple[str, ...]
    at_time: str
    timezone: str
    weekdays_only: bool
    quiet_start: str | None
    quiet_end: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    account_ids: tuple[str, ...] = ()  # followed accounts, covered whatever the scope

    def covers(
        self,
        *,
        csm: str | None,
        ae: str | None,
        segment: str | None,
        tier: str | None,
        account_id: str | None = None,
    ) -> bool:
        """Whether an account with this CSM, AE, segment and tier (or this id, followed) is
        in the subscription's scope."""
        if account_id is not None and account_id in self.account_ids:
            return True
        if self.scope == "all":
            return True
        if self.scope == "book":
            owners = {h.casefold() for h in self.owner_handles}
            return any(who is not None and who.casefold() in owners for who in (csm, ae))
        if self.scope == "segment":
            return _same(segment, self.scope_value)
        if self.scope == "tier":
            return tier is not None and tier == self.scope_value
        return False


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


def upsert_subscription(
    conn: Connection,
    *,
    platform: str,
    channel: str,
    kind: str,
    created_by: str,
    now: datetime,
    scope: str = "all",
    scope_value: str | None = None,
    owner_handles: Sequence[str] = (),
    at_time: str = "08:30",
    timezone: str = "UTC",
    weekdays_only: bool = False,
    quiet_start: str | None = None,
    quiet_end: str | None = None,
) -> tuple[Sub, Sub | None]:
    """Create or replace the channel's subscription of this kind; return it and the one before.

    An update keeps the row's id, creator and creation time.

    Raises:
        ValueError: an unknown kind or scope, or a scope that needs a value without one.
    """
    _check(kind, scope, scope_value)
    previous = get_subscription(conn, platform=platform, channel=channel, kind=kind)
    values: dict[str, Any] = {
        "platform": platform,
        "channel": channel,
        "kind": kind,
        "scope": scope,
        "scope_value": scope_value,
        "owner_handles": list(owner_handles),
        "at_time": at_time,
        "timezone": timezone,
        "weekdays_only": weekdays_only,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "created_by": created_by,
        "created_at": now,
        "updated_at": now,
    }
    insert = upsert_statement(conn, subscriptions).values(**values)
    statement = insert.on_conflict_do_update(
        index_elements=["platform", "channel", "kind"],
        set_={name: insert.excluded[name] for name in _UPDATED_ON_CONFLICT},
    ).returning(*subscriptions.c)
    row = conn.execute(statement).one()
    return _sub(row), previous


def _check(kind: str, scope: str, scope_value: str | None) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown subscription kind {kind!r}")
    if scope not in SCOPES:
        raise ValueError(f"unknown subscription scope {scope!r}")
    if scope not in ("all", "follows") and not scope_value:
        raise ValueError(f"the scope {scope!r} needs a value")


def remove_subscriptions(
    conn: Connection, *, platform: str, channel: str, kind: str | None = None
) -> int:
    """Delete the channel's subscription of this kind (every kind by default); return how many."""
    s = subscriptions.c
    statement = subscriptions.delete().where(s.platform == platform, s.channel == channel)
    if kind is not None:
        statement = statement.where(s.kind == kind)
    return int(conn.execute(statement).rowcount)


def list_subscriptions(
    conn: Connection,
    *,
    platform: str | None = None,
    kind: str | None = None,
    channel: str | None = None,
) -> list[Sub]:
    """Subscriptions matching every filter given, by platform, channel and kind."""
    s = subscriptions.c
    query = sa.select(subscriptions).order_by(s.platform, s.channel, s.kind)
    if platform is not None:
        query = query.where(s.platform == platform)
    if kind is not None:
        query = query.where(s.kind == kind)
    if channel is not None:
        query = query.where(s.channel == channel)
    return [_sub(row) for row in conn.execute(query)]


def get_subscription(conn: Connection, *, platform: str, channel: str, kind: str) -> Sub | None:
    """The channel's subscription of this kind, if it has one."""
    s = subscriptions.c
    row = conn.execute(
        sa.select(subscriptions).where(s.platform == platform, s.channel == channel, s.kind == kind)
    ).one_or_none()
    return _sub(row) if row is not None else None


def _sub(row: Any) -> Sub:
    return Sub(
        id=int(row.id),
        platform=row.platform,
        channel=row.channel,
        kind=row.kind,
        scope=row.scope,
        scope_value=row.scope_value,
        owner_handles=tuple(str(h) for h in row.owner_handles or ()),
        at_time=row.at_time,
        timezone=row.timezone,
        weekdays_only=bool(row.weekdays_only),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        account_ids=tuple(str(a) for a in row.account_ids or ()),
    )


def set_follows(
    conn: Connection,
    *,
    platform: str,
    channel: str,
    created_by: str,
    account_ids: Sequence[str],
    now: datetime,
    timezone: str = "UTC",
) -> Sub | None:
    """Replace the accounts a person's own alerts subscription follows (created as a
    follows-only subscription when missing; removed when it follows nothing and has no
    other scope). Returns the subscription, or None when none is left."""
    current = get_subscription(conn, platform=platform, channel=channel, kind="alerts")
    ids = list(dict.fromkeys(account_ids))
    if current is None and not ids:
        return None
    if current is None:
        upsert_subscription(
            conn,
            platform=platform,
            channel=channel,
            kind="alerts",
            created_by=created_by,
            now=now,
            scope="follows",
            timezone=timezone,
        )
    elif current.scope == "follows" and not ids:
        remove_subscriptions(conn, platform=platform, channel=channel, kind="alerts")
        return None
    s = subscriptions.c
    conn.execute(
        subscriptions.update()
        .where(s.platform == platform, s.channel == channel, s.kind == "alerts")
        .values(account_ids=ids, updated_at=now)
    )
    return get_subscription(conn, platform=platform, channel=channel, kind="alerts")


def known_segments(conn: Connection) -> list[str]:
    """The segments accounts have, sorted (for checking a subscription's segment)."""
    segment = accounts.c.segment
    rows = conn.execute(sa.select(segment).where(segment.is_not(None)).distinct())
    return sorted({str(value) for (value,) in rows if str(value).strip()}, key=str.casefold)
