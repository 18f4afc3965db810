"""Post the outbox to Slack: claim, check who would read it, look for an earlier post, post
with the key, mark sent.

Before every post Steward asks Slack who would read it (SlackFacts: the conversation's
members, or the CSM/AE a direct message goes to; answers kept a few minutes, never for
the worker's lifetime). A guest, a stranger, a member of another team or a conversation
shared with another organisation gets no account data (``external_channel``,
``external_person``); when Slack will not say, nothing is sent either, and the message
waits or fails with Slack's reason. `steward outbox` shows why.

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
import time
from datetime import datetime, timedelta
from http.client import HTTPException
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
from bot.adapters.slack.facts import Audience, SlackFacts
from bot.adapters.slack.home import compose_home
from bot.adapters.slack.installs import SlackInstalls
from bot.adapters.slack.render import to_message
from core.messages import card_from_dict
from services.delivery import SendReport
from storage import outbox, repository, slack_installs
from storage.db import read_connection
from storage.subscriptions import list_subscriptions

log = logging.getLogger(__name__)

PLATFORM = "slack"
EVENT_TYPE = "steward_outbox"
HISTORY_PAGE = 200  # messages per conversations.history page when looking for a lost post
HISTORY_PAGES = 100  # at most this many pages (20,000 messages since the message was due)
CLOCK_SKEW = timedelta(minutes=5)  # Slack's clock against ours, when searching by time
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
        "not_installed",
        "external_channel",
        "external_person",
    }
)
# Slack's own words for "not now" (answered with HTTP 200 and ok: false)
TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})
PEOPLE_TTL_SECONDS = 24 * 3600.0  # an owner's Slack id, looked up again after a day
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SlackOutbox(OutboxSender):
    """Sends due outbox messages for Slack."""

    platform = PLATFORM
    finds_earlier = True

    def __init__(
        self,
        engine: Any,
        client: WebClient,
        shared_channels: frozenset[str] = frozenset(),
        installs: SlackInstalls | None = None,
    ) -> None:
        super().__init__(engine, shared_channels)  # Slack Connect channels allowed account data
        self.client = client
        self._dms: dict[str, str] = {}
        # (token, handle) -> (Slack user id or None, when looked up)
        self._known_people: dict[tuple[str, str], tuple[str | None, float]] = {}
        self._now = 0.0  # the time of the message being sent, for the facts' few-minute cache
        self.facts = SlackFacts(client, clock=lambda: self._now)
        self.installs = installs  # OAuth: each message goes out with its workspace's token
        self.user_groups: frozenset[str] = frozenset()  # SLACK_USER_GROUPS, for App Homes
        self._workspaces: dict[str, tuple[str, WebClient, SlackFacts, dict[str, str]]] = {}

    @classmethod
    def for_workspaces(
        cls,
        engine: Any,
        installs: SlackInstalls,
        base_url: str | None,
        shared_channels: frozenset[str] = frozenset(),
    ) -> SlackOutbox:
        """A sender for every workspace installed through OAuth."""
        return cls(engine, _client(None, base_url), shared_channels, installs)

    @classmethod
    def from_settings(
        cls,
        engine: Any,
        token: str,
        base_url: str | None,
        shared_channels: frozenset[str] = frozenset(),
    ) -> SlackOutbox:
        """A sender with Steward's retry policy: 429 after Retry-After, 5xx, connection errors."""
        return cls(engine, _client(token, base_url), shared_channels)

    async def send_one(self, message: outbox.Message, now: datetime, report: SendReport) -> None:
        """Check who would read it, then post it (slack_sdk's blocking client, in a thread)."""
        self._now = now.timestamp()
        try:
            if self.installs is not None:
                await asyncio.to_thread(self._use_workspace, message.channel)
            channel = await self._destination(message.channel)
            posted_in, ts, found = await asyncio.to_thread(self._post, message, channel)
        except (SlackApiError, Undeliverable, OSError, HTTPException) as exc:
            # OSError, HTTPException: Slack unreachable or the connection lost mid-answer
            await asyncio.to_thread(self._failed, message, exc, now, report)
            return
        await asyncio.to_thread(self.mark_sent, message, posted_in, ts, now)
        if found:
            report.found += 1
            log.info("outbox %s was already in %s (ts %s)", message.key, posted_in, ts)
            return
        report.sent += 1
        log.info("sent %s %s to %s (ts %s)", message.kind, message.key, posted_in, ts)
        if message.kind == "alert" and message.account_id:
            await self._refresh_homes(message.account_id, now)

    async def _refresh_homes(self, account_id: str, now: datetime) -> None:
        """Publish again the App Home of those whose alerts just changed: the account's CSM
        and AE, and whoever follows it (members of the workspace only)."""
        people = await asyncio.to_thread(self._watchers, account_id)
        for handle in people:
            try:
                user_id = await asyncio.to_thread(self._user_id, handle)
                view = await compose_home(
                    self.engine, self.facts, user_id, now.date(), self.user_groups
                )
                await asyncio.to_thread(self.client.views_publish, user_id=user_id, view=view)
            except (SlackApiError, Undeliverable) as exc:
                log.info("home of %s not refreshed: %s", handle, _error_of(exc)[0])

    def _watchers(self, account_id: str) -> list[str]:
        with read_connection(self.engine) as conn:
            account = repository.get_account(conn, account_id) or {}
            subs = list_subscriptions(conn, platform=PLATFORM, kind="alerts")
        owners = [str(account[role]) for role in ("csm", "ae") if account.get(role)]
        followers = [
            s.channel.removeprefix("user:")
            for s in subs
            if s.channel.startswith("user:") and account_id in s.account_ids
        ]
        return list(dict.fromkeys([*owners, *followers]))

    def _post(self, message: outbox.Message, channel: str) -> tuple[str, str, bool]:
        """Post (or find a post an earlier sender made); where, its ts, and whether found."""
        if message.attempts > 1:
            due = message.deadline - outbox.stale_after(message.kind)
            found = self._find(channel, message.key, since=due)
            if found is not None:
                return channel, found, True
        card = card_from_dict(message.card)
        body = to_message(card, people=self._people(card.mentions))
        response = self.client.chat_postMessage(
            channel=channel,
            text=body["text"],
            blocks=body["blocks"],
            metadata={"event_type": EVENT_TYPE, "event_payload": {"key": message.key}},
            unfurl_links=False,
        )
        return str(response.get("channel") or channel), str(response["ts"]), False

    async def _destination(self, channel: str) -> str:
        """A channel id everyone in which may read account data; ``user:<handle>`` becomes
        the DM with that person, if they are a full member of Steward's workspace.

        Checked before every post (Slack's answers are kept a few minutes): a channel may
        have become shared, gained a guest, or a CSM become a guest since the subscription.
        SLACK_SHARED_CHANNELS lets an admin allow account data in a channel anyway.

        Raises:
            Undeliverable: the reader is outside the workspace, or Slack would not say; the
                text starts with the reason (Slack's error when it gave one).
        """
        if not channel.startswith("user:"):
            if channel not in self.shared:
                _allowed(await self.facts.audience(channel), channel)
            return channel
        handle = channel.removeprefix("user:")
        user_id = await asyncio.to_thread(self._user_id, handle)
        _allowed(await self.facts.person(user_id), f"user:{handle}")
        if handle not in self._dms:
            opened = await asyncio.to_thread(self.client.conversations_open, users=user_id)
            self._dms[handle] = str(opened["channel"]["id"])
        return self._dms[handle]

    def _use_workspace(self, channel: str) -> None:
        """Speak with the token of the workspace the message's reader is in.

        A conversation's workspace is the one its commands came from (signed by Slack); a
        person's is where they used Steward, or the first installed workspace that knows
        their email.

        Raises:
            Undeliverable: no installed workspace is known for the reader.
        """
        assert self.installs is not None
        handle = channel.removeprefix("user:")
        with read_connection(self.engine) as conn:
            team = slack_installs.team_of(conn, handle)
        candidates = [team] if team else []
        if team is None and "@" in handle:
            candidates = self.installs.installed_teams()
        for candidate in candidates:
            if not self._switch(candidate):
                continue
            if team is not None:
                return
            try:  # an email: the first workspace that knows it
                self.client.users_lookupByEmail(email=handle)
                return
            except SlackApiError:
                continue
        raise Undeliverable(
            f"not_installed: no installed workspace is known for {channel} (a conversation is "
            "known once someone used Steward there; a person by their email)"
        )

    def _switch(self, team_id: str) -> bool:
        """Use this workspace's token; False when Steward is not installed there."""
        assert self.installs is not None
        bot = self.installs.fresh_bot(team_id)
        if bot is None:
            return False
        known = self._workspaces.get(team_id)
        if known is None or known[0] != bot.bot_token:
            client = _client(bot.bot_token, self.client.base_url)
            facts = SlackFacts(client, clock=lambda: self._now)
            known = (bot.bot_token, client, facts, {})
            self._workspaces[team_id] = known
        _, self.client, self.facts, self._dms = known
        return True

    def _people(self, handles: tuple[str, ...]) -> dict[str, str]:
        """The Slack user id of each person named (looked up once a day per workspace);
        someone Slack does not know stays their email."""
        found: dict[str, str] = {}
        for handle in handles:
            key = (str(self.client.token), handle)
            known = self._known_people.get(key)
            if known is None or time.monotonic() - known[1] > PEOPLE_TTL_SECONDS:
                try:
                    known = (self._user_id(handle), time.monotonic())
                except (SlackApiError, Undeliverable):
                    known = (None, time.monotonic())
                self._known_people[key] = known
            if known[0] is not None:
                found[handle] = known[0]
        return found

    def _user_id(self, handle: str) -> str:
        if USER_ID.match(handle):
            return handle
        if "@" in handle:
            return str(self.client.users_lookupByEmail(email=handle)["user"]["id"])
        raise Undeliverable(
            f"no_person: {handle!r} is neither a Slack user id nor an email "
            "(set the account's csm/ae to one of them)"
        )

    def _find(self, channel: str, key: str, *, since: datetime) -> str | None:
        """The ts of a message Steward posted with this key: the channel's history is read
        back to ``since`` (when the message was first queued), however busy the channel."""
        cursor = None
        oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
        for _ in range(HISTORY_PAGES):
            page = self.client.conversations_history(
                channel=channel,
                limit=HISTORY_PAGE,
                oldest=oldest,
                include_all_metadata=True,
                cursor=cursor,
            )
            for item in page.get("messages") or []:
                meta = item.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and payload.get("key") == key:
                    return str(item["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        log.warning("outbox %s: %s too busy to search to the end; posting", key, channel)
        return None

    def _failed(
        self, message: outbox.Message, exc: Exception, now: datetime, report: SendReport
    ) -> None:
        error, cause, retry_after = _error_of(exc)
        self.settle(message, report, error=error, cause=cause, retry_after=retry_after, now=now)


def _client(token: str | None, base_url: str | None) -> WebClient:
    return WebClient(
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


def _allowed(audience: Audience, target: str) -> None:
    """Raise Undeliverable unless everyone who would read ``target`` is internal."""
    if audience.external is False:
        return
    if audience.external is None:
        raise Undeliverable(
            f"{audience.why}: Steward cannot confirm who would read {target}, so it sends no "
            "account data there"
        )
    if target.startswith("user:"):
        raise Undeliverable(
            f"external_person: {target} ({audience.why}) is not a full member of this "
            "workspace; set the account's csm/ae to someone who is"
        )
    raise Undeliverable(
        f"external_channel: {target} has guests or members of another organisation "
        f"({audience.why}); add it to SLACK_SHARED_CHANNELS to allow account data there"
    )


def _error_of(exc: Exception) -> tuple[str, outbox.Cause, timedelta | None]:
    """What went wrong, whether retrying can help (and when), from Slack's answer."""
    if isinstance(exc, Undeliverable):
        error = str(exc)
        return error, _by_code(error.split(":", 1)[0]), None
    if not isinstance(exc, SlackApiError):  # no answer: Slack unreachable, connection lost
        return f"connection error: {type(exc).__name__}: {exc}"[:300], "unavailable", None
    response = exc.response
    error = str(response.get("error") or f"HTTP {response.status_code}")
    if response.status_code == 429:
        headers = response.headers or {}
        seconds = headers.get("retry-after") or headers.get("Retry-After")
        try:
            retry_after = timedelta(seconds=max(0, int(seconds))) if seconds else None
        except ValueError:
            retry_after = None
        return "ratelimited", "rate_limited", retry_after
    if response.status_code >= 500:
        return f"{error} (HTTP {response.status_code})", "unavailable", None
    return error, _by_code(error), None


def _by_code(code: str) -> outbox.Cause:
    if code in PERMANENT:
        return "permanent"
    if code in TRANSIENT:
        return "unavailable"
    return "error"
