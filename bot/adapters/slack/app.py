"""The Slack adapter: a Bolt app at /slack/events that acknowledges at once and answers after.

Every slash command and button click is written to ``pending_replies`` and then
acknowledged, so Slack's 3 seconds are never at risk; the answer follows through the
``response_url``. A process that dies in between leaves the row behind, and the
sweep of the next process answers it (or, past Slack's 30 minutes, says it could
not). The adapter only translates: the neutral handlers decide what to say.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy.exc
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack.deliver import WEBHOOK_LOG, Delivery
from bot.adapters.slack.home import compose_home
from bot.adapters.slack.installs import SlackInstalls, SlackStates
from bot.adapters.slack.manifest import COMMANDS, OAUTH_REDIRECT_PATH, bot_scopes
from bot.adapters.slack.render import action_of, chosen
from core.sealing import Sealer
from services.container import Services
from storage import outbox, replies, slack_installs
from storage.db import DatabaseUnavailable, write_transaction

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
RESPONSE_URL_LIFETIME = timedelta(minutes=29)  # Slack accepts answers for 30 minutes
MAX_ATTEMPTS = 3  # processes that died answering one reply before it is given up
REPLY_RETRY_FIRST = timedelta(seconds=5)  # Slack could not take an answer: again after 5 s,
REPLY_RETRY_CAP = timedelta(minutes=2)  # doubling up to 2 minutes, until the URL expires
KEEP_FINISHED = timedelta(days=7)  # answered replies are kept a week, for support questions
SWEEP_SECONDS = 30.0
ACTION_ID = re.compile(r"^steward:")
CATCHING_UP = "Steward is catching up: try again in a minute."
# the database cannot be reached (stopped, restarting, out of connections)
DATABASE_DOWN = (DatabaseUnavailable, sqlalchemy.exc.DBAPIError, sqlalchemy.exc.TimeoutError)
ALERT_ACTIONS = frozenset({"ack", "snooze", "assign"})  # clicks that change someone's alerts


def quiet_logger(name: str) -> logging.Logger:
    """A logger for Slack's libraries that logs warnings and errors only.

    Below WARNING they log request bodies and URLs (a refused request's whole body at
    INFO): message contents, and response_url paths that work as credentials. Steward
    logs what was sent where itself.
    """
    logger = logging.getLogger(name)
    logger.setLevel(logging.WARNING)
    return logger


class _TokenSkippedFilter(logging.Filter):
    """Drop Bolt's warning that SLACK_BOT_TOKEN went unused: the client given carries it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in (
            warning_client_prioritized_and_token_skipped(),
            warning_token_skipped(),
        )


def installation_store(services: Services) -> SlackInstalls:
    """The workspaces installed through OAuth, tokens sealed with STEWARD_ENCRYPTION_KEY."""
    settings = services.settings
    assert settings.slack_client_id is not None
    assert settings.slack_client_secret is not None
    keys = [key.get_secret_value() for key in settings.encryption_keys]
    rotator = TokenRotator(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        client=WebClient(
            base_url=settings.slack_api_url or WebClient.BASE_URL,
            logger=quiet_logger("steward.slack_sdk.rotation"),
        ),
    )
    return SlackInstalls(
        services.engine, settings.slack_client_id, Sealer(keys), services.clock, rotator
    )


def oauth_settings(services: Services, installs: SlackInstalls) -> AsyncOAuthSettings:
    """Bolt's "Add to Slack": /slack/install redirects to Slack with a state (also set as
    a cookie), /slack/oauth_redirect checks both and exchanges the code."""
    settings = services.settings
    assert settings.slack_client_id is not None
    assert settings.slack_client_secret is not None
    redirect = (
        f"{settings.public_url.rstrip('/')}{OAUTH_REDIRECT_PATH}" if settings.public_url else None
    )
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=bot_scopes(),
        redirect_uri=redirect,
        install_path="/slack/install",
        redirect_uri_path=OAUTH_REDIRECT_PATH,
        install_page_rendering_enabled=False,  # straight to Slack's authorize page
        installation_store=installs,
        installation_store_bot_only=True,
        state_store=SlackStates(services.engine, services.clock),
        state_expiration_seconds=600,
        logger=quiet_logger("steward.slack_bolt.oauth"),
    )


def retry_handlers() -> list[Any]:
    """Retry 429s after Retry-After, 5xx and connection errors, a few times each."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def answer_retry_handlers() -> list[Any]:
    """For answers to a response_url: one quick retry each; past it the answer waits in
    pending_replies and the sweep posts it again while the URL lives (without holding
    the request that brought the command)."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        AsyncServerErrorRetryHandler(max_retry_count=1),
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
    ]


class SlackAdapter:
    """Bolt app, Web API client and the durable answering of commands and clicks."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        assert settings.slack_signing_secret is not None
        self.services = services
        self.installs: SlackInstalls | None = None
        self._deliveries: dict[str, tuple[str, Delivery]] = {}  # team -> (its token, delivery)
        bolt_logger = quiet_logger("steward.slack_bolt")
        bolt_logger.addFilter(_TokenSkippedFilter())
        if settings.slack_oauth:
            self.client = self.web_client(None)
            self.delivery: Delivery | None = None
            self.installs = installation_store(services)
            self.bolt = AsyncApp(
                client=self.client,
                signing_secret=settings.slack_signing_secret.get_secret_value(),
                oauth_settings=oauth_settings(services, self.installs),
                process_before_response=False,
                logger=bolt_logger,
            )
            register_uninstall(self.bolt, self.installs)
        else:
            assert settings.slack_bot_token is not None
            self.client = self.web_client(settings.slack_bot_token.get_secret_value())
            self.delivery = Delivery(services, self.client, answer_retry_handlers)
            self.bolt = AsyncApp(
                client=self.client,
                signing_secret=settings.slack_signing_secret.get_secret_value(),
                process_before_response=False,
                logger=bolt_logger,
            )
        register(self.bolt, self)
        self.handler = AsyncSlackRequestHandler(self.bolt)
        self._tasks: set[asyncio.Task[None]] = set()

    def web_client(self, token: str | None) -> AsyncWebClient:
        """A Web API client for one workspace's token (None: for oauth.v2.access only)."""
        return AsyncWebClient(
            token=token,
            base_url=self.services.settings.slack_api_url or AsyncWebClient.BASE_URL,
            retry_handlers=retry_handlers(),
            logger=quiet_logger("steward.slack_sdk"),
        )

    async def delivery_for(self, team_id: str) -> Delivery | None:
        """The delivery speaking with this workspace's token (None: not installed there)."""
        if self.installs is None:
            return self.delivery
        bot = await self.installs.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None:
            return None
        known = self._deliveries.get(team_id)
        if known is not None and known[0] == bot.bot_token:
            return known[1]
        delivery = Delivery(self.services, self.web_client(bot.bot_token), answer_retry_handlers)
        self._deliveries[team_id] = (bot.bot_token, delivery)
        return delivery

    async def publish_home(self, team_id: str, user_id: str) -> None:
        """Publish this person's App Home (their book, alerts, subscriptions, follows)."""
        delivery = await self.delivery_for(team_id)
        if delivery is None or not user_id:
            return
        today = self.services.clock().date()
        groups = delivery.policy.user_groups
        view = await compose_home(self.services.engine, delivery.facts, user_id, today, groups)
        try:
            await delivery.client.views_publish(user_id=user_id, view=view)
        except SlackApiError as exc:
            log.warning("views.publish for %s failed: %s", user_id, exc.response.get("error"))
            return
        log.info("slack home published for %s (%d blocks)", user_id, len(view["blocks"]))

    async def receive(self, kind: str, payload: Mapping[str, Any]) -> replies.Reply:
        """Write down a reply owed, leased to this process, before acknowledging it."""
        now = self.services.clock()
        reply_id = uuid.uuid4().hex
        await asyncio.to_thread(self._add, reply_id, kind, payload, now)
        return replies.Reply(reply_id, "slack", kind, payload, 1, now)

    def _add(self, reply_id: str, kind: str, payload: Mapping[str, Any], now: datetime) -> None:
        with write_transaction(self.services.engine) as conn:
            if self.installs is not None and payload.get("team_id"):
                # Signed by Slack: this conversation and person are in this workspace,
                # where the outbox posts to them later with its token.
                ids = [str(payload.get("channel_id") or ""), str(payload.get("user_id") or "")]
                slack_installs.remember_team(conn, ids, str(payload["team_id"]), now=now)
            replies.add_reply(
                conn,
                reply_id=reply_id,
                platform="slack",
                kind=kind,
                payload=payload,
                now=now,
                lease=LEASE,
            )

    async def answer(self, reply: replies.Reply) -> None:
        """Answer a reply and record how it went."""
        started = time.perf_counter()
        delivery = await self.delivery_for(str(reply.payload.get("team_id") or ""))
        status: str = "failed"
        error: str | None = "not_installed: Steward is not installed in this workspace"
        if delivery is not None:
            status, error = await delivery.deliver(reply)
        if status == "retry":
            status = await asyncio.to_thread(self._defer, reply, error or "")
        else:
            await asyncio.to_thread(self._finish, reply.id, status, error)
        p = reply.payload
        if status == "done" and action_of(str(p.get("action") or "")) in ALERT_ACTIONS:
            await self.publish_home(str(p.get("team_id") or ""), str(p.get("user_id") or ""))
        log.info(
            "slack %s %s by %s in %s: %s in %.0f ms (attempt %d)",
            reply.kind,
            reply.payload.get("command") or reply.payload.get("action"),
            reply.payload.get("user_id"),
            reply.payload.get("channel_id"),
            status,
            (time.perf_counter() - started) * 1000,
            reply.attempts,
        )

    def _defer(self, reply: replies.Reply, error: str) -> str:
        """Keep an answer Slack could not take for the sweep to post again, while the
        response_url lives; return the status it is left in."""
        now = self.services.clock()
        # as long again as it has waited so far (so the waits double), 5 s to 2 minutes
        wait = min(max(REPLY_RETRY_FIRST, now - reply.received_at), REPLY_RETRY_CAP)
        until = now + wait * (1 + outbox.JITTER * random.random())  # the outbox's spread
        if until - reply.received_at > RESPONSE_URL_LIFETIME:
            self._finish(reply.id, "failed", f"{error}; response_url expired before Slack took it")
            return "failed"
        with write_transaction(self.services.engine) as conn:
            replies.defer_reply(conn, reply.id, until=until, error=error)
        return "waiting"

    def _finish(self, reply_id: str, status: str, error: str | None) -> None:
        with write_transaction(self.services.engine) as conn:
            replies.finish_reply(
                conn, reply_id, now=self.services.clock(), status=status, error=error
            )

    async def recover_once(self) -> int:
        """Answer replies a dead process left behind; give up on those Slack no longer takes."""
        now = self.services.clock()
        stale = await asyncio.to_thread(self._claim_stale, now)
        for reply in stale:
            if now - reply.received_at > RESPONSE_URL_LIFETIME or reply.attempts > MAX_ATTEMPTS:
                why = "too late for Slack" if reply.attempts <= MAX_ATTEMPTS else "kept failing"
                log.warning(
                    "slack %s %s by %s received %s was never answered: %s",
                    reply.kind,
                    reply.payload.get("command") or reply.payload.get("action"),
                    reply.payload.get("user_id"),
                    reply.received_at.isoformat(timespec="seconds"),
                    why,
                )
                await asyncio.to_thread(self._finish, reply.id, "expired", why)
                continue
            await self.answer(reply)
        return len(stale)

    def _claim_stale(self, now: datetime) -> list[replies.Reply]:
        with write_transaction(self.services.engine) as conn:
            replies.prune_replies(conn, before=now - KEEP_FINISHED)
            return replies.claim_stale(conn, platform="slack", now=now, lease=LEASE)

    async def sweep_forever(self, interval: float = SWEEP_SECONDS) -> None:
        """Recover left-behind replies now and then, for as long as the process runs."""
        while True:
            try:
                await self.recover_once()
            except Exception:
                log.exception("sweep of pending Slack replies failed; trying again later")
            await asyncio.sleep(interval)


async def catching_up(response_url: str) -> None:
    """Tell whoever clicked that Steward cannot take it now (only to them)."""
    if not response_url:
        return
    body = {"response_type": "ephemeral", "replace_original": False, "text": CATCHING_UP}
    try:
        await AsyncWebhookClient(response_url, timeout=5, logger=WEBHOOK_LOG).send_dict(body)
    except Exception as exc:  # Slack is not answering either: nothing more to say
        log.warning("could not say 'catching up' to a click: %s", type(exc).__name__)


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    """Register Steward's listeners: commands, button clicks, mentions."""

    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            reply = await adapter.receive("command", command_payload(body))
        except DATABASE_DOWN as exc:  # not written down: say so, never an error page
            log.warning("slack command not taken, database unavailable: %s", type(exc).__name__)
            await ack(text=CATCHING_UP)
            return
        await ack()
        await adapter.answer(reply)

    async def on_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            reply = await adapter.receive("action", action_payload(body))
        except DATABASE_DOWN as exc:
            log.warning("slack click not taken, database unavailable: %s", type(exc).__name__)
            await ack()
            await catching_up(str(body.get("response_url") or ""))
            return
        await ack()
        await adapter.answer(reply)

    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(
            text="Type /steward help for what I answer. Answers are private to you.",
            thread_ts=event.get("ts"),
        )

    async def on_home(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        await adapter.publish_home(str(body.get("team_id") or ""), str(event.get("user") or ""))

    for command in COMMANDS:
        app.command(command)(on_command)
    app.event("app_home_opened")(on_home)
    app.action(ACTION_ID)(on_action)
    app.event("app_mention")(on_mention)


REVOKING_EVENTS = ("app_uninstalled", "tokens_revoked")


def register_uninstall(app: AsyncApp, installs: SlackInstalls) -> None:
    """Forget a workspace that uninstalls Steward or revokes its bot token.

    Done in a middleware, before Slack gets its 200: a failure answers 500 and Slack
    sends the event again, so a token Slack has revoked is never kept.
    """

    async def forget(body: dict[str, Any], next: Any) -> None:
        event = body.get("event") or {}
        if body.get("type") == "event_callback" and event.get("type") in REVOKING_EVENTS:
            team = str(body.get("team_id") or "") or None
            enterprise = str(body.get("enterprise_id") or "") or None
            revoked_bots = (event.get("tokens") or {}).get("bot") or []
            if event["type"] == "app_uninstalled" or revoked_bots:
                await installs.async_delete_all(enterprise_id=enterprise, team_id=team)
        await next()

    async def done() -> None:
        return None

    app.middleware(forget)
    for kind in REVOKING_EVENTS:
        app.event(kind)(done)


def command_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a slash command needs to be answered later, from Slack's form fields."""
    keys = ("command", "text", "user_id", "user_name", "channel_id", "team_id", "response_url")
    return {key: str(body.get(key) or "") for key in keys}


def action_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a button click needs to be answered later, from Slack's block_actions payload."""
    action_id, value = chosen((body.get("actions") or [{}])[0])
    user = body.get("user") or {}
    container = body.get("container") or {}
    posted = container.get("type") == "message" and not container.get("is_ephemeral")
    return {
        "message_ts": str(container.get("message_ts") or "") if posted else "",
        "action": action_id,
        "value": value,
        "user_id": str(user.get("id", "")),
        "user_name": str(user.get("username") or user.get("name") or ""),
        "channel_id": str((body.get("channel") or {}).get("id", "")),
        "team_id": str((body.get("team") or {}).get("id", "") or user.get("team_id", "")),
        "response_url": str(body.get("response_url", "")),
    }
