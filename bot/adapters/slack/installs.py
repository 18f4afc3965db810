"""Slack workspaces installed through OAuth, kept in Steward's database.

slack_sdk's ``InstallationStore`` and ``OAuthStateStore`` interfaces (blocking and async,
so that Bolt's OAuth flow in the web app and the outbox in the worker share one store),
implemented on Steward's own engine and Alembic-managed tables rather than slack_sdk's
SQLAlchemy stores: those create their own tables outside the migrations and keep
tokens in plain text. Bot tokens and refresh tokens are sealed with Fernet
(STEWARD_ENCRYPTION_KEY) before they reach the database.

Steward asks for bot scopes only, so an installation is its bot: ``find_installation``
answers with the bot's fields, and deleting either deletes the workspace's row.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.installation_store import InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy.engine import Engine

from core.sealing import Sealer
from storage import slack_installs
from storage.db import read_connection, write_transaction

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=10)


class SlackInstalls(InstallationStore, AsyncInstallationStore):
    """Installations in ``slack_installations``, tokens sealed."""

    def __init__(
        self,
        engine: Engine,
        client_id: str,
        sealer: Sealer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rotator: TokenRotator | None = None,
    ) -> None:
        self.engine = engine
        self.client_id = client_id
        self.sealer = sealer
        self.clock = clock
        self.rotator = rotator  # refreshes rotating tokens for the worker (Bolt does the web's)

    @property
    def logger(self) -> logging.Logger:
        return log

    # Blocking interface (the worker's outbox, the command line).

    def save(self, installation: Installation) -> None:
        bot = installation.to_bot() if installation.bot_token else None
        if bot is None:
            log.info("an installation without a bot token was not stored (Steward is a bot)")
            return
        bot.installer_user_id = installation.user_id  # type: ignore[attr-defined]
        self.save_bot(bot)

    def save_bot(self, bot: Bot) -> None:
        expires = bot.bot_token_expires_at
        values = {
            "client_id": self.client_id,
            "enterprise_id": bot.enterprise_id or "",
            "team_id": bot.team_id or "",
            "team_name": bot.team_name,
            "app_id": bot.app_id,
            "bot_id": bot.bot_id,
            "bot_user_id": bot.bot_user_id,
            "bot_scopes": ",".join(bot.bot_scopes or []),
            "bot_token": self.sealer.seal(bot.bot_token),
            "bot_refresh_token": (
                self.sealer.seal(bot.bot_refresh_token) if bot.bot_refresh_token else None
            ),
            "bot_token_expires_at": (
                datetime.fromtimestamp(expires, UTC) if expires is not None else None
            ),
            "is_enterprise_install": bool(bot.is_enterprise_install),
            "installed_at": self.clock(),
        }
        installer = getattr(bot, "installer_user_id", None)
        if installer:
            values["installer_user_id"] = installer
        with write_transaction(self.engine) as conn:
            slack_installs.save_installation(conn, values)
        log.info("slack workspace %s (%s) installed", bot.team_id, bot.team_name)

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        with read_connection(self.engine) as conn:
            row = slack_installs.find_installation(
                conn,
                client_id=self.client_id,
                enterprise_id=enterprise_id,
                team_id=None if is_enterprise_install else team_id,
            )
        return self._bot(row) if row is not None else None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        bot = self.find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if bot is None or user_id is not None:  # no user tokens are stored
            return None
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id=getattr(bot, "installer_user_id", None) or "",
            is_enterprise_install=bot.is_enterprise_install,
            installed_at=bot.installed_at,
        )

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is not None:  # a user's token revoked: Steward keeps none
            return
        self.delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        with write_transaction(self.engine) as conn:
            gone = slack_installs.delete_installations(
                conn, client_id=self.client_id, enterprise_id=enterprise_id, team_id=team_id
            )
            if team_id:
                slack_installs.forget_team(conn, team_id)
        log.info("slack workspace %s uninstalled: %d installation(s) deleted", team_id, gone)

    def fresh_bot(self, team_id: str) -> Bot | None:
        """The workspace's bot, its token refreshed first when token rotation is on and it
        expires within two hours (the new token and refresh token are stored sealed)."""
        bot = self.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or self.rotator is None or not bot.bot_refresh_token:
            return bot
        refreshed = self.rotator.perform_bot_token_rotation(bot=bot)
        if refreshed is None:
            return bot
        refreshed.installer_user_id = getattr(bot, "installer_user_id", None)  # type: ignore[attr-defined]
        self.save_bot(refreshed)
        log.info("slack workspace %s: bot token rotated", team_id)
        return refreshed

    def installed_teams(self) -> list[str]:
        """Every installed workspace's id, oldest installation first."""
        with read_connection(self.engine) as conn:
            rows = slack_installs.list_installations(conn, client_id=self.client_id)
        return [str(row["team_id"]) for row in rows]

    def workspaces(self) -> list[dict[str, Any]]:
        """Every installed workspace, without its tokens (for `steward slack-workspaces`)."""
        with read_connection(self.engine) as conn:
            rows = slack_installs.list_installations(conn, client_id=self.client_id)
        hidden = ("bot_token", "bot_refresh_token")
        return [{k: v for k, v in row.items() if k not in hidden} for row in rows]

    def rekey(self) -> int:
        """Seal every stored token again with the newest key; how many installations."""
        with write_transaction(self.engine) as conn:
            rows = slack_installs.list_installations(conn, client_id=self.client_id)
            for row in rows:
                refresh = row["bot_refresh_token"]
                slack_installs.update_tokens(
                    conn,
                    int(row["id"]),
                    bot_token=self.sealer.reseal(row["bot_token"]),
                    bot_refresh_token=self.sealer.reseal(refresh) if refresh else None,
                )
        return len(rows)

    def _bot(self, row: dict[str, Any]) -> Bot:
        expires: datetime | None = row["bot_token_expires_at"]
        bot = Bot(
            app_id=row["app_id"],
            enterprise_id=row["enterprise_id"] or None,
            team_id=row["team_id"] or None,
            team_name=row["team_name"],
            bot_token=self.sealer.open(row["bot_token"]),
            bot_id=row["bot_id"] or "",
            bot_user_id=row["bot_user_id"] or "",
            bot_scopes=row["bot_scopes"] or "",
            bot_refresh_token=(
                self.sealer.open(row["bot_refresh_token"]) if row["bot_refresh_token"] else None
            ),
            bot_token_expires_at=int(expires.timestamp()) if expires is not None else None,
            is_enterprise_install=bool(row["is_enterprise_install"]),
            installed_at=row["installed_at"].timestamp(),
        )
        bot.installer_user_id = row["installer_user_id"]  # type: ignore[attr-defined]
        return bot

    # Async interface (Bolt in the web app): the same, in a worker thread.

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.save_bot, bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await asyncio.to_thread(
            lambda: self.find_bot(
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
            )
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            lambda: self.find_installation(
                enterprise_id=enterprise_id,
                team_id=team_id,
                user_id=user_id,
                is_enterprise_install=is_enterprise_install,
            )
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(
            lambda: self.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        )

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(
            lambda: self.delete_installation(
                enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
            )
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(
            lambda: self.delete_all(enterprise_id=enterprise_id, team_id=team_id)
        )


class SlackStates(OAuthStateStore, AsyncOAuthStateStore):
    """OAuth states in ``slack_oauth_states``: random, single use, ten minutes."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    def issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        with write_transaction(self.engine) as conn:
            slack_installs.add_state(conn, state, expires_at=self.clock() + STATE_LIFETIME)
        return state

    def consume(self, state: str) -> bool:
        if not state or len(state) > 128:
            return False
        with write_transaction(self.engine) as conn:
            return slack_installs.consume_state(conn, state, now=self.clock())

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.issue)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.consume, state)
