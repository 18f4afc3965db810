"""Teams conversation references and the chart images Teams cards point to.

Every authenticated activity refreshes its conversation's reference (service URL,
tenant, kind, and for a personal chat who it is with), so digests and alerts can be
posted later without anyone typing. Fields an activity does not carry (a user's email,
which only the roster has) are kept from earlier activities.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import chart_images, teams_conversations


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where and how to reach one Teams conversation."""

    conversation_id: str
    service_url: str
    kind: str  # personal, channel, groupChat
    bot_id: str
    tenant_id: str | None = None
    team_id: str | None = None
    name: str | None = None
    user_id: str | None = None
    user_aad_id: str | None = None
    user_email: str | None = None
    user_name: str | None = None
    installed: bool = True

    @property
    def personal(self) -> bool:
        """A one-to-one chat between a user and Steward."""
        return self.kind == "personal"


_COLUMNS = tuple(teams_conversations.c[name] for name in Conversation.__dataclass_fields__)
_KEEP_WHEN_MISSING = ("team_id", "name", "user_id", "user_aad_id", "user_email", "user_name")


def remember(conn: Connection, conversation: Conversation, *, now: datetime) -> None:
    """Insert or refresh a reference; a missing optional field keeps what was known."""
    values = {
        **{c.name: getattr(conversation, c.name) for c in _COLUMNS},
        "updated_at": now,
    }
    stmt = upsert_statement(conn, teams_conversations).values(**values)
    excluded = stmt.excluded
    table = teams_conversations.c
    updates = {
        "service_url": excluded.service_url,
        "tenant_id": sa.func.coalesce(excluded.tenant_id, table.tenant_id),
        "kind": excluded.kind,
        "bot_id": excluded.bot_id,
        "installed": excluded.installed,
        "updated_at": excluded.updated_at,
        **{name: sa.func.coalesce(excluded[name], table[name]) for name in _KEEP_WHEN_MISSING},
    }
    conn.execute(stmt.on_conflict_do_update(index_elements=["conversation_id"], set_=updates))


def set_installed(
    conn: Connection, conversation_id: str, installed: bool, *, now: datetime
) -> None:
    """Record that Steward was added to (or removed from) a conversation."""
    conn.execute(
        teams_conversations.update()
        .where(teams_conversations.c.conversation_id == conversation_id)
        .values(installed=installed, updated_at=now)
    )


def get(conn: Connection, conversation_id: str) -> Conversation | None:
    """The reference of one conversation, if Steward has ever heard from it."""
    row = conn.execute(
        sa.select(*_COLUMNS).where(teams_conversations.c.conversation_id == conversation_id)
    ).first()
    return Conversation(**row._mapping) if row else None


def personal_chat(conn: Connection, handle: str) -> Conversation | None:
    """The personal chat with the person an account's CSM/AE field names.

    The handle may be their Entra object id, email (user principal name) or Teams
    user id; names are too ambiguous to post account data on.
    """
    c = teams_conversations.c
    wanted = handle.strip().lower()
    row = conn.execute(
        sa.select(*_COLUMNS)
        .where(
            c.kind == "personal",
            c.installed.is_(True),
            sa.or_(
                sa.func.lower(c.user_aad_id) == wanted,
                sa.func.lower(c.user_email) == wanted,
                c.user_id == handle,
            ),
        )
        .order_by(c.updated_at.desc())
    ).first()
    return Conversation(**row._mapping) if row else None


def put_chart(conn: Connection, png: bytes, *, now: datetime) -> str:
    """Keep a chart image; return its unguessable id."""
    chart_id = secrets.token_urlsafe(24)
    conn.execute(chart_images.insert().values(id=chart_id, png=png, created_at=now))
    return chart_id


def get_chart(conn: Connection, chart_id: str) -> bytes | None:
    """A chart image by id, or None."""
    row = conn.execute(sa.select(chart_images.c.png).where(chart_images.c.id == chart_id)).first()
    return bytes(row[0]) if row else None


def prune_charts(conn: Connection, *, before: datetime) -> int:
    """Forget chart images drawn before ``before``; return how many."""
    result = conn.execute(chart_images.delete().where(chart_images.c.created_at < before))
    return int(result.rowcount or 0)


def unreachable_people(conn: Connection, handles: list[str]) -> list[str]:
    """Those among these CSM/AE handles who have no personal chat with Steward in Teams
    (they must open Steward in Teams once before it can write to them)."""
    return [h for h in dict.fromkeys(handles) if h.strip() and personal_chat(conn, h) is None]
