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
import re
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.deliver import Delivery
from bot.adapters.slack.manifest import COMMANDS
from bot.adapters.slack.render import chosen
from services.container import Services
from storage import replies
from storage.db import write_transaction

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
RESPONSE_URL_LIFETIME = timedelta(minutes=29)  # Slack accepts answers for 30 minutes
MAX_ATTEMPTS = 3
KEEP_FINISHED = timedelta(days=7)  # answered replies are kept a week, for support questions
SWEEP_SECONDS = 30.0
ACTION_ID = re.compile(r"^steward:")


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
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def retry_handlers() -> list[Any]:
    """Retry 429s after Retry-After, 5xx and connection errors, a few times each."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


class SlackAdapter:
    """Bolt app, Web API client and the durable answering of commands and clicks."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        assert settings.slack_bot_token is not None
        assert settings.slack_signing_secret is not None
        token = settings.slack_bot_token.get_secret_value()
        self.services = services
        self.client = AsyncWebClient(
            token=token,
            base_url=settings.slack_api_url or AsyncWebClient.BASE_URL,
            retry_handlers=retry_handlers(),
            logger=quiet_logger("steward.slack_sdk"),
        )
        self.delivery = Delivery(services, self.client, retry_handlers)
        bolt_logger = quiet_logger("steward.slack_bolt")
        bolt_logger.addFilter(_TokenSkippedFilter())
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            process_before_response=False,
            logger=bolt_logger,
        )
        register(self.bolt, self)
        self.handler = AsyncSlackRequestHandler(self.bolt)
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, kind: str, payload: Mapping[str, Any]) -> replies.Reply:
        """Write down a reply owed, leased to this process, before acknowledging it."""
        now = self.services.clock()
        reply_id = uuid.uuid4().hex
        await asyncio.to_thread(self._add, reply_id, kind, payload, now)
        return replies.Reply(reply_id, "slack", kind, payload, 1, now)

    def _add(self, reply_id: str, kind: str, payload: Mapping[str, Any], now: datetime) -> None:
        with write_transaction(self.services.engine) as conn:
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
        status, error = await self.delivery.deliver(reply)
        await asyncio.to_thread(self._finish, reply.id, status, error)
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


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    """Register Steward's listeners: commands, button clicks, mentions."""

    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        reply = await adapter.receive("command", command_payload(body))
        await ack()
        await adapter.answer(reply)

    async def on_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        reply = await adapter.receive("action", action_payload(body))
        await ack()
        await adapter.answer(reply)

    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(
            text="Type /steward help for what I answer. Answers are private to you.",
            thread_ts=event.get("ts"),
        )

    for command in COMMANDS:
        app.command(command)(on_command)
    app.action(ACTION_ID)(on_action)
    app.event("app_mention")(on_mention)


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
