"""Post the outbox to Slack: claim, look for an earlier post, post with the key, mark sent.

Each message carries its outbox key in Slack message metadata
(``event_type: steward_outbox``). A message claimed before (``attempts > 1``) may
have been posted by a sender that died before marking it: the channel's recent
history is searched for the key first, and a message found is marked sent instead
of being posted again. 429s are retried after ``Retry-After`` by slack_sdk's retry
handler; when Slack keeps refusing, the message goes back to the queue for later, and
after outbox.MAX_ATTEMPTS (or at once for errors that retrying cannot fix) it is kept as
failed, with its error, for `steward outbox`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.adapters.outbox import OutboxSender, Undeliverable
from bot.adapters.slack.app import quiet_logger
from bot.adapters.slack.render import to_message
from core.messages import card_from_dict
from services.delivery import SendReport
from storage import outbox

log = logging.getLogger(__name__)

PLATFORM = "slack"
EVENT_TYPE = "steward_outbox"
HISTORY_PAGES = 2  # a post lost between sending and marking is among the newest messages
PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "invalid_blocks",
        "msg_too_long",
        "user_not_found",
        "users_not_found",
        "cannot_dm_bot",
        "no_person",
        "external_channel",
    }
)
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SlackOutbox(OutboxSender):
    """Sends due outbox messages for Slack."""

    platform = PLATFORM
    finds_earlier = True

    def __init__(
        self, engine: Any, client: WebClient, shared_channels: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(engine, shared_channels)  # Slack Connect channels allowed account data
        self.client = client
        self._dms: dict[str, str] = {}
        self._checked: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        engine: Any,
        token: str,
        base_url: str | None,
        shared_channels: frozenset[str] = frozenset(),
    ) -> SlackOutbox:
        """A sender with Steward's retry policy: 429 after Retry-After, 5xx, connection errors."""
        client = WebClient(
            token=token,
            base_url=base_url or WebClient.BASE_URL,
            timeout=15,
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=2),
                ServerErrorRetryHandler(max_retry_count=2),
                ConnectionErrorRetryHandler(max_retry_count=2),
            ],
            logger=quiet_logger("steward.slack_sdk.outbox"),
        )
        return cls(engine, client, shared_channels)

    async def send_one(self, message: outbox.Message, now: datetime, report: SendReport) -> None:
        """Post one message with slack_sdk's blocking client, in a worker thread."""
        await asyncio.to_thread(self._send_one, message, now, report)

    def _send_one(self, message: outbox.Message, now: datetime, report: SendReport) -> None:
        try:
            channel = self._channel(message.channel)
            if message.attempts > 1:
                found = self._find(channel, message.key)
                if found is not None:
                    self.mark_sent(message, channel, found, now)
                    report.found += 1
                    log.info("outbox %s was already in %s (ts %s)", message.key, channel, found)
                    return
            body = to_message(card_from_dict(message.card))
            response = self.client.chat_postMessage(
                channel=channel,
                text=body["text"],
                blocks=body["blocks"],
                metadata={"event_type": EVENT_TYPE, "event_payload": {"key": message.key}},
                unfurl_links=False,
            )
        except (SlackApiError, Undeliverable) as exc:
            self._failed(message, exc, now, report)
            return
        posted_in = str(response.get("channel") or channel)
        self.mark_sent(message, posted_in, str(response["ts"]), now)
        report.sent += 1
        log.info("sent %s %s to %s (ts %s)", message.kind, message.key, posted_in, response["ts"])

    def _channel(self, channel: str) -> str:
        """A channel id; ``user:<handle>`` becomes the DM with that person.

        A channel shared with another organisation (Slack Connect) gets no account
        data unless SLACK_SHARED_CHANNELS allows it: it may have become shared since
        it subscribed.
        """
        if not channel.startswith("user:"):
            self._check_not_external(channel)
            return channel
        handle = channel.removeprefix("user:")
        if handle not in self._dms:
            user_id = self._user_id(handle)
            opened = self.client.conversations_open(users=user_id)
            self._dms[handle] = str(opened["channel"]["id"])
        return self._dms[handle]

    def _check_not_external(self, channel: str) -> None:
        if channel in self._checked or channel in self.shared:
            return
        info = self.client.conversations_info(channel=channel).get("channel") or {}
        if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
            raise Undeliverable(
                f"external_channel: {channel} is shared with another organisation; add it to "
                "SLACK_SHARED_CHANNELS to allow account data there"
            )
        self._checked.add(channel)

    def _user_id(self, handle: str) -> str:
        if USER_ID.match(handle):
            return handle
        if "@" in handle:
            return str(self.client.users_lookupByEmail(email=handle)["user"]["id"])
        raise Undeliverable(
            f"no_person: {handle!r} is neither a Slack user id nor an email "
            "(set the account's csm/ae to one of them)"
        )

    def _find(self, channel: str, key: str) -> str | None:
        """The ts of a message Steward posted with this key, among the channel's newest."""
        cursor = None
        for _ in range(HISTORY_PAGES):
            page = self.client.conversations_history(
                channel=channel, limit=100, include_all_metadata=True, cursor=cursor
            )
            for item in page.get("messages") or []:
                meta = item.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and payload.get("key") == key:
                    return str(item["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _failed(
        self, message: outbox.Message, exc: Exception, now: datetime, report: SendReport
    ) -> None:
        error, retry_after = _error_of(exc)
        permanent = error.split(":", 1)[0] in PERMANENT
        self.settle(
            message, report, error=error, permanent=permanent, retry_after=retry_after, now=now
        )


def _error_of(exc: Exception) -> tuple[str, timedelta | None]:
    if isinstance(exc, Undeliverable):
        return str(exc), None
    assert isinstance(exc, SlackApiError)
    response = exc.response
    error = str(response.get("error") or f"HTTP {response.status_code}")
    retry_after = None
    if response.status_code == 429:
        seconds = (response.headers or {}).get("retry-after") or (response.headers or {}).get(
            "Retry-After"
        )
        retry_after = timedelta(seconds=int(seconds or 30))
        error = "ratelimited"
    return error, retry_after
