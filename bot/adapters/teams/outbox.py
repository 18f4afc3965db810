"""Post the outbox to Teams: claim, find the conversation's reference, post, mark sent.

A channel subscription names the Teams conversation; ``user:<handle>`` (an alert for
a CSM or AE) is the personal chat with that person, found by their Entra object id or
email among the personal chats Steward has had. The roster is read before every post
(kept a few minutes): a conversation that gained guests or members of another
organisation since it subscribed gets no account data unless TEAMS_SHARED_CONVERSATIONS
allows it, and a personal chat with a guest or someone of another tenant gets none at
all. Throttling (429) puts the message back in the queue until Retry-After has passed;
other transient errors back off; errors retrying cannot fix (Steward removed,
conversation gone, no personal chat) fail at once and stay listed by `steward outbox`
with their reason.

Teams gives a bot no way to read a conversation's history, so unlike Slack a sender
cannot look for a message an earlier sender posted just before dying: the lease
makes a repeat possible only for a process killed between posting and marking.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from bot.adapters.outbox import OutboxSender, Undeliverable
from bot.adapters.teams.connector import Connector, ConnectorError, Member
from core.messages import card_from_dict
from services.delivery import SendReport
from storage import outbox
from storage import teams as references
from storage.db import read_connection

log = logging.getLogger(__name__)

PLATFORM = "teams"
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 413})


class TeamsOutbox(OutboxSender):
    """Sends due outbox messages for Teams."""

    platform = PLATFORM

    def __init__(
        self, engine: Any, connector: Connector, shared: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(engine, shared)
        self.connector = connector

    async def send_one(self, message: outbox.Message, now: datetime, report: SendReport) -> None:
        """Post one message to its conversation through the Bot Connector."""
        try:
            target = await asyncio.to_thread(self._target, message.channel)
            self._check_service_url(target)
            members = await self._check_members(target)
            card = card_from_dict(message.card)
            activity = await self.connector.activity(card, _people(card.mentions, members))
            activity_id = await self.connector.send(
                target.service_url, target.conversation_id, activity
            )
        except (ConnectorError, Undeliverable) as exc:
            await asyncio.to_thread(self._failed, message, exc, now, report)
            return
        await asyncio.to_thread(self.mark_sent, message, target.conversation_id, activity_id, now)
        report.sent += 1
        log.info(
            "sent %s %s to %s (%s)", message.kind, message.key, target.conversation_id, activity_id
        )

    def _target(self, channel: str) -> references.Conversation:
        with read_connection(self.engine) as conn:
            if channel.startswith("user:"):
                handle = channel.removeprefix("user:")
                found = references.personal_chat(conn, handle)
                if found is None:
                    raise Undeliverable(
                        f"no_person: {handle!r} has no personal chat with Steward in Teams "
                        "(they can open Steward in Teams once, or set the account's csm/ae "
                        "to their email)"
                    )
                return found
            found = references.get(conn, channel)
        if found is None:
            raise Undeliverable(
                f"no_conversation: Steward has never heard from {channel} (add Steward there)"
            )
        if not found.installed:
            raise Undeliverable(f"uninstalled: Steward was removed from {channel}")
        return found

    def _check_service_url(self, target: references.Conversation) -> None:
        """Refuse a reference whose service URL the connector would not give the token to
        (one an anonymous activity left behind, say): it fails for good, saying why."""
        if not self.connector.trusts(target.service_url):
            raise Undeliverable(
                f"untrusted_service_url: {target.conversation_id} was reached through "
                f"{target.service_url[:200]}, not a Bot Framework host in TEAMS_SERVICE_HOSTS; "
                "Steward sends it nothing (a message from Teams there refreshes the address)"
            )

    async def _check_members(self, target: references.Conversation) -> list[Member]:
        """Everyone who would read the post is a full member of a home tenant, or raise.

        Read before every post (the roster is kept a few minutes). A personal chat (an
        alert for a CSM or AE) is checked like any conversation: a guest, an anonymous user
        or someone of another tenant gets nothing, and no allow-list changes that.
        """
        if not target.personal and target.conversation_id in self.shared:
            return []
        members = await self.connector.members(target.service_url, target.conversation_id)
        if members is None or (target.personal and not members):
            raise ConnectorError(0, "roster unavailable: cannot check who would see this")
        if not self.connector.any_external(members):
            return members
        if target.personal:
            raise Undeliverable(
                f"external_person: {target.user_email or target.user_aad_id or target.user_id} "
                "is a guest or a member of another organisation; set the account's csm/ae to "
                "a member of your tenant"
            )
        raise Undeliverable(
            f"external_conversation: {target.conversation_id} has guests or members of "
            "another organisation; add it to TEAMS_SHARED_CONVERSATIONS to allow account data"
        )

    def _failed(
        self, message: outbox.Message, exc: Exception, now: datetime, report: SendReport
    ) -> None:
        retry_after = None
        cause: outbox.Cause = "permanent"
        error = str(exc)
        if isinstance(exc, ConnectorError):
            if exc.status == 429:
                cause, error = "rate_limited", "throttled (429)"
                retry_after = timedelta(seconds=exc.retry_after) if exc.retry_after else None
            elif exc.status == 0 or exc.status >= 500:  # unreachable, or Teams' own trouble
                cause = "unavailable"
            elif exc.status not in PERMANENT_STATUSES:
                cause = "error"
        self.settle(message, report, error=error, cause=cause, retry_after=retry_after, now=now)


def _people(handles: tuple[str, ...], members: list[Member]) -> dict[str, tuple[str, str]]:
    """Each person named who is in the conversation (by email or Entra object id), with
    their Teams id and name, for a mention; someone not in it stays their email."""
    found: dict[str, tuple[str, str]] = {}
    for handle in handles:
        wanted = handle.lower()
        for member in members:
            ids = {(member.email or "").lower(), (member.aad_object_id or "").lower()}
            if wanted in ids and member.name:
                found[handle] = (member.id, member.name)
                break
    return found
