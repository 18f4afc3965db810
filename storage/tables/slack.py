"""Slack workspaces installed through OAuth, the OAuth states in flight, and which
workspace each conversation and person belongs to.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables.timestamps import UTCDateTime


class SlackInstallation(SQLModel, table=True):
    """One workspace's installation of Steward: its bot, and the bot's token, encrypted.

    ``enterprise_id`` is "" outside Enterprise Grid, so (client, enterprise, team) is a key
    on both engines. Tokens are Fernet tokens (STEWARD_ENCRYPTION_KEY), never plain text.
    """

    __tablename__ = "slack_installations"
    __table_args__ = (sa.UniqueConstraint("client_id", "enterprise_id", "team_id"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64)
    enterprise_id: str = Field(default="", max_length=32)
    team_id: str = Field(max_length=32, index=True)
    team_name: str | None = Field(default=None, max_length=255)
    app_id: str | None = Field(default=None, max_length=32)
    bot_id: str | None = Field(default=None, max_length=32)
    bot_user_id: str | None = Field(default=None, max_length=32)
    bot_scopes: str = Field(default="", max_length=2000)
    bot_token: str = Field(max_length=1000)  # sealed
    bot_refresh_token: str | None = Field(default=None, max_length=1000)  # sealed
    bot_token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    installer_user_id: str | None = Field(default=None, max_length=32)
    is_enterprise_install: bool = False
    installed_at: datetime = Field(sa_type=UTCDateTime)


class SlackOAuthState(SQLModel, table=True):
    """A state handed to a browser at /slack/install, consumed once at the redirect."""

    __tablename__ = "slack_oauth_states"

    state: str = Field(primary_key=True, max_length=128)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class SlackDirectory(SQLModel, table=True):
    """The workspace a conversation or person (Slack id) was last seen in, from signed
    requests: the outbox posts there with that workspace's token."""

    __tablename__ = "slack_directory"

    slack_id: str = Field(primary_key=True, max_length=64)
    team_id: str = Field(max_length=32, index=True)
    seen_at: datetime = Field(sa_type=UTCDateTime)


slack_installations = SlackInstallation.__table__  # type: ignore[attr-defined]
slack_oauth_states = SlackOAuthState.__table__  # type: ignore[attr-defined]
slack_directory = SlackDirectory.__table__  # type: ignore[attr-defined]
