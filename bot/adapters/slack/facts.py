"""What Slack says about a conversation and a user, for the access rules (cached briefly)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.chat.access import Asker, Place, PlaceKind
from handlers.chat.context import Person

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0


class Unverified(Exception):
    """Slack would not say who a user is: refuse rather than guess."""


class SlackFacts:
    """Ask Slack about conversations, users and user groups; remember answers for 5 minutes."""

    def __init__(
        self, client: AsyncWebClient, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    async def _cached(self, kind: str, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        now = self._clock()
        hit = self._cache.get((kind, key))
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        value = await fetch()
        self._cache[(kind, key)] = (now, value)
        return value

    async def place(self, channel_id: str, team_id: str) -> tuple[Place, bool]:
        """The conversation, and whether it is the asker's direct message with Steward."""
        info = await self._cached("channel", channel_id, lambda: self._channel(channel_id))
        if info is None:
            return Place(channel_id, "unknown", None), False
        kind = _kind(info)
        external = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
        if kind == "dm" and not external and info.get("user"):
            other = await self.user(str(info["user"]))
            external = other is None or _is_external(other, team_id)
        return Place(channel_id, kind, external), kind == "dm"

    async def _channel(self, channel_id: str) -> dict[str, Any] | None:
        try:
            response = await self._client.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            log.info("conversation %s not visible to Steward: %s", channel_id, _error(exc))
            return None
        channel: dict[str, Any] = response.get("channel") or {}
        return channel

    async def user(self, user_id: str) -> dict[str, Any] | None:
        """The user's profile, or None when Slack does not know them."""
        return await self._cached("user", user_id, lambda: self._user(user_id))  # type: ignore[no-any-return]

    async def _user(self, user_id: str) -> dict[str, Any] | None:
        try:
            response = await self._client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user_id, _error(exc))
            return None
        user: dict[str, Any] = response.get("user") or {}
        return user

    async def asker(
        self, user_id: str, team_id: str, groups: Iterable[str]
    ) -> tuple[Asker, Person]:
        """Who asked, as the access rules and the commands need them.

        Raises:
            Unverified: Slack did not answer users.info for this user.
        """
        user = await self.user(user_id)
        if user is None:
            raise Unverified(user_id)
        member_of = frozenset([g for g in groups if user_id in await self.group(g)])
        return Asker(user_id, _is_external(user, team_id), member_of), person_of(user_id, user)

    async def group(self, group_id: str) -> frozenset[str]:
        """The members of a user group (none if Slack does not know it)."""
        return await self._cached("group", group_id, lambda: self._group(group_id))  # type: ignore[no-any-return]

    async def _group(self, group_id: str) -> frozenset[str]:
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroups.users.list for %s failed: %s", group_id, _error(exc))
            return frozenset()
        return frozenset(response.get("users") or [])


def person_of(user_id: str, user: dict[str, Any]) -> Person:
    """A Slack user as the commands know people: id, email, real name and time zone."""
    profile = user.get("profile") or {}
    return Person(
        user_id,
        email=profile.get("email"),
        name=profile.get("real_name") or user.get("real_name") or user.get("name"),
        tz=user.get("tz") or None,
    )


def _kind(info: dict[str, Any]) -> PlaceKind:
    if info.get("is_im"):
        return "dm"
    if info.get("is_mpim"):
        return "group_dm"
    return "private" if info.get("is_private") else "channel"


def _is_external(user: dict[str, Any], team_id: str) -> bool:
    """Guests, and members of another organisation (Slack Connect), are external."""
    if user.get("is_restricted") or user.get("is_ultra_restricted") or user.get("is_stranger"):
        return True
    home = user.get("team_id")
    return bool(home and team_id and home != team_id)


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown error"))
