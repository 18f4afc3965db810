"""What Slack says about a conversation and a user, for the access rules (cached briefly).

A conversation is internal when Slack says who is in it (``conversations.members``, then
``users.info`` for each member) and every member belongs to Steward's own workspace: no
guest, no stranger, no member of another team. Steward's own team is the one its token
belongs to (``auth.test``), never the team a payload names. Bots and deactivated accounts
read nothing and do not count. When Slack will not say (an error, a missing scope), the
conversation is not internal: callers refuse rather than guess.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.chat.access import Asker, Place, PlaceKind
from handlers.chat.context import Person

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
MEMBERS_PAGE = 200
LOOKUPS_AT_ONCE = 8  # users.info calls in flight while reading a conversation's members


class Unverified(Exception):
    """Slack would not say who a user is: refuse rather than guess."""


@dataclass(frozen=True, slots=True)
class Home:
    """Steward's own workspace and bot user, as ``auth.test`` names them."""

    team_id: str
    bot_user_id: str


@dataclass(frozen=True, slots=True)
class Audience:
    """Who would see a post: ``external`` True (someone outside), False (all internal), or
    None (Slack would not say); ``why`` names the outsider or Slack's error."""

    external: bool | None
    why: str = ""


class SlackFacts:
    """Ask Slack about conversations, users and user groups; remember answers for 5 minutes.

    Works with either slack_sdk client: the async one (the web app) or the blocking one (the
    outbox, whose calls run in a worker thread). Failed lookups are not remembered.
    """

    def __init__(
        self,
        client: AsyncWebClient | WebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    async def _cached(
        self,
        kind: str,
        key: str,
        fetch: Callable[[], Awaitable[Any]],
        keep: Callable[[Any], bool] = lambda value: value is not None,
    ) -> Any:
        now = self._clock()
        hit = self._cache.get((kind, key))
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        value = await fetch()
        if keep(value):
            self._cache[(kind, key)] = (now, value)
        return value

    async def _call(self, method: str, **params: Any) -> Any:
        """One Web API call (``method`` is the client's method name); raises SlackApiError."""
        call = getattr(self._client, method)
        if isinstance(self._client, AsyncWebClient):
            return await call(**params)
        return await asyncio.to_thread(call, **params)

    async def home(self) -> Home | None:
        """Steward's own team and bot user (auth.test), or None when Slack would not say."""
        return await self._cached("home", "", self._home)  # type: ignore[no-any-return]

    async def _home(self) -> Home | None:
        try:
            response = await self._call("auth_test")
        except SlackApiError as exc:
            log.warning("auth.test failed: %s", _error(exc))
            return None
        team, user = str(response.get("team_id") or ""), str(response.get("user_id") or "")
        return Home(team, user) if team else None

    async def place(self, channel_id: str) -> tuple[Place, bool]:
        """The conversation, and whether it is the asker's direct message with Steward."""
        info = await self.channel(channel_id)
        if info is None:
            return Place(channel_id, "unknown", None), False
        kind = _kind(info)
        audience = await self.audience(channel_id)
        return Place(channel_id, kind, audience.external), kind == "dm"

    async def channel(self, channel_id: str) -> dict[str, Any] | None:
        """conversations.info for a conversation, or None when Steward cannot see it."""
        return await self._cached("channel", channel_id, lambda: self._channel(channel_id))  # type: ignore[no-any-return]

    async def _channel(self, channel_id: str) -> dict[str, Any] | None:
        try:
            response = await self._call("conversations_info", channel=channel_id)
        except SlackApiError as exc:
            log.info("conversation %s not visible to Steward: %s", channel_id, _error(exc))
            return None
        channel: dict[str, Any] = response.get("channel") or {}
        return channel

    async def audience(self, channel_id: str) -> Audience:
        """Whether everyone who can read the conversation belongs to Steward's workspace."""
        found: Audience = await self._cached(
            "audience",
            channel_id,
            lambda: self._audience(channel_id),
            keep=lambda verdict: verdict.external is not None,  # Slack's errors are not kept
        )
        return found

    async def _audience(self, channel_id: str) -> Audience:
        try:
            info = (await self._call("conversations_info", channel=channel_id)).get("channel")
            if (info or {}).get("is_ext_shared") or (info or {}).get("is_pending_ext_shared"):
                return Audience(True, f"{channel_id} is shared with another organisation")
            members = await self._members(channel_id)
        except SlackApiError as exc:
            log.warning("who is in %s: Slack would not say: %s", channel_id, _error(exc))
            return Audience(None, _error(exc))
        home = await self.home()
        if home is None:
            return Audience(None, "auth_test_failed")
        readers = [m for m in members if m != home.bot_user_id]
        verdicts = await _bounded([self._reader(m, home) for m in readers])
        unknown = [m for m, v in zip(readers, verdicts, strict=True) if v is None]
        if unknown:
            return Audience(None, f"users_info_failed for {', '.join(unknown[:5])}")
        outsiders = [f"{m} ({v})" for m, v in zip(readers, verdicts, strict=True) if v]
        if outsiders:
            return Audience(True, "not members of this workspace: " + ", ".join(outsiders[:5]))
        return Audience(False)

    async def _members(self, channel_id: str) -> list[str]:
        members: list[str] = []
        cursor: str | None = None
        while True:
            page = await self._call(
                "conversations_members", channel=channel_id, limit=MEMBERS_PAGE, cursor=cursor
            )
            members.extend(str(m) for m in page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return members

    async def _reader(self, user_id: str, home: Home) -> str | None:
        """Why a member is an outsider: empty for one who may read account data (or reads
        nothing: bots, deactivated accounts), None when Slack would not say."""
        user = await self.user(user_id)
        if user is None:
            return None
        if user.get("is_bot") or user.get("deleted"):
            return ""
        return outsider(user, home.team_id) or ""

    async def person(self, user_id: str) -> Audience:
        """Whether account data may be sent to this person directly (a DM to a CSM or AE)."""
        user, home = await self.user(user_id), await self.home()
        if user is None or home is None:
            return Audience(None, f"users_info_failed for {user_id}")
        why = outsider(user, home.team_id)
        return Audience(True, f"{user_id} is {why}") if why else Audience(False)

    async def user(self, user_id: str) -> dict[str, Any] | None:
        """The user's profile, or None when Slack does not know them."""
        return await self._cached("user", user_id, lambda: self._user(user_id))  # type: ignore[no-any-return]

    async def _user(self, user_id: str) -> dict[str, Any] | None:
        try:
            response = await self._call("users_info", user=user_id)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user_id, _error(exc))
            return None
        user: dict[str, Any] = response.get("user") or {}
        return user or None

    async def asker(self, user_id: str, groups: Iterable[str]) -> tuple[Asker, Person]:
        """Who asked, as the access rules and the commands need them.

        Raises:
            Unverified: Slack did not answer users.info for this user, or auth.test.
        """
        user, home = await self.user(user_id), await self.home()
        if user is None or home is None:
            raise Unverified(user_id)
        member_of = frozenset([g for g in groups if user_id in await self.group(g)])
        external = bool(outsider(user, home.team_id))
        return Asker(user_id, external, member_of), person_of(user_id, user)

    async def group(self, group_id: str) -> frozenset[str]:
        """The members of a user group (none if Slack does not know it)."""
        return await self._cached("group", group_id, lambda: self._group(group_id))  # type: ignore[no-any-return]

    async def _group(self, group_id: str) -> frozenset[str]:
        try:
            response = await self._call("usergroups_users_list", usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroups.users.list for %s failed: %s", group_id, _error(exc))
            return frozenset()
        return frozenset(response.get("users") or [])


def outsider(user: dict[str, Any], home_team: str) -> str:
    """Why this user is not a full member of Steward's workspace ("" when they are).

    Guests, strangers (Slack Connect), deactivated accounts and members of another team
    are outsiders; a user whose team Slack does not give is one too.
    """
    if user.get("deleted"):
        return "deactivated"
    if user.get("is_restricted") or user.get("is_ultra_restricted"):
        return "a guest"
    if user.get("is_stranger"):
        return "from another organisation"
    if not home_team or user.get("team_id") != home_team:
        return "from another team"
    return ""


async def _bounded(calls: list[Awaitable[str | None]]) -> list[str | None]:
    """Await the calls, a few at a time."""
    found: list[str | None] = []
    for start in range(0, len(calls), LOOKUPS_AT_ONCE):
        found.extend(await asyncio.gather(*calls[start : start + LOOKUPS_AT_ONCE]))
    return found


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


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown error"))
