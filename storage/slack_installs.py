"""Slack installations (tokens stored sealed by the caller), OAuth states, and which
workspace each conversation or person belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import slack_directory, slack_installations, slack_oauth_states

_KEY = ("client_id", "enterprise_id", "team_id")


def save_installation(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert a workspace's installation or replace the one it had (a reinstall, a refresh)."""
    stmt = upsert_statement(conn, slack_installations).values(**values)
    updated = {k: stmt.excluded[k] for k in values if k not in (*_KEY, "id")}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(_KEY), set_=updated))


def find_installation(
    conn: Connection, *, client_id: str, enterprise_id: str | None, team_id: str | None
) -> dict[str, Any] | None:
    """The installation for this workspace (or for the whole org, on an org-wide install)."""
    i = slack_installations.c
    query = sa.select(slack_installations).where(
        i.client_id == client_id, i.enterprise_id == (enterprise_id or "")
    )
    if team_id:
        query = query.where(i.team_id == team_id)
    else:
        query = query.where(i.is_enterprise_install.is_(True))
    row = conn.execute(query.order_by(i.installed_at.desc()).limit(1)).mappings().first()
    return dict(row) if row is not None else None


def delete_installations(
    conn: Connection, *, client_id: str, enterprise_id: str | None, team_id: str | None
) -> int:
    """Forget a workspace's installation (uninstalled, or its tokens revoked)."""
    i = slack_installations.c
    statement = slack_installations.delete().where(
        i.client_id == client_id, i.enterprise_id == (enterprise_id or "")
    )
    if team_id:
        statement = statement.where(i.team_id == team_id)
    return int(conn.execute(statement).rowcount or 0)


def list_installations(conn: Connection, *, client_id: str) -> list[dict[str, Any]]:
    """Every installed workspace, oldest first."""
    i = slack_installations.c
    rows = conn.execute(
        sa.select(slack_installations).where(i.client_id == client_id).order_by(i.installed_at)
    ).mappings()
    return [dict(row) for row in rows]


def update_tokens(
    conn: Connection, installation_id: int, *, bot_token: str, bot_refresh_token: str | None
) -> None:
    """Replace an installation's sealed tokens (sealed again with a newer key)."""
    conn.execute(
        slack_installations.update()
        .where(slack_installations.c.id == installation_id)
        .values(bot_token=bot_token, bot_refresh_token=bot_refresh_token)
    )


def add_state(conn: Connection, state: str, *, expires_at: datetime) -> None:
    conn.execute(slack_oauth_states.insert().values(state=state, expires_at=expires_at))


def consume_state(conn: Connection, state: str, *, now: datetime) -> bool:
    """Whether the state was issued and has not expired; it is gone either way."""
    s = slack_oauth_states.c
    conn.execute(slack_oauth_states.delete().where(s.expires_at < now))
    return bool(conn.execute(slack_oauth_states.delete().where(s.state == state)).rowcount)


def remember_team(conn: Connection, slack_ids: list[str], team_id: str, *, now: datetime) -> None:
    """Note the workspace these conversations and people were seen in."""
    for slack_id in dict.fromkeys(i for i in slack_ids if i):
        stmt = upsert_statement(conn, slack_directory).values(
            slack_id=slack_id, team_id=team_id, seen_at=now
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["slack_id"],
                set_={"team_id": stmt.excluded.team_id, "seen_at": stmt.excluded.seen_at},
            )
        )


def team_of(conn: Connection, slack_id: str) -> str | None:
    """The workspace a conversation or person was last seen in, if ever."""
    d = slack_directory.c
    found = conn.execute(sa.select(d.team_id).where(d.slack_id == slack_id)).scalar()
    return str(found) if found is not None else None


def forget_team(conn: Connection, team_id: str) -> None:
    """Drop what was noted about an uninstalled workspace's conversations and people."""
    conn.execute(slack_directory.delete().where(slack_directory.c.team_id == team_id))
