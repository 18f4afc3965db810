"""Which account each Segment user belongs to, as the latest `group` call said."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import segment_groups


def remember(conn: Connection, groups: Mapping[str, str], *, now: datetime) -> None:
    """Record user -> account for each user (a later group call replaces an earlier one)."""
    if not groups:
        return
    stmt = upsert_statement(conn, segment_groups)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"account_id": stmt.excluded.account_id, "updated_at": stmt.excluded.updated_at},
    )
    rows = [{"user_id": u, "account_id": a, "updated_at": now} for u, a in sorted(groups.items())]
    conn.execute(stmt, rows)


def accounts_of(conn: Connection, user_ids: Iterable[str]) -> dict[str, str]:
    """The account recorded for each of these users that has one."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    query = sa.select(segment_groups.c.user_id, segment_groups.c.account_id).where(
        segment_groups.c.user_id.in_(wanted)
    )
    return {row.user_id: row.account_id for row in conn.execute(query)}
