"""Talking to the Bot Connector: calls with a token, the roster, cards as activities.

The Bot Connector speaks the Activity protocol (``/v3/conversations``) at the address an
activity names (its ``serviceUrl``). This module posts there with a token from
:class:`ConnectorTokens`, but only to the hosts :mod:`.service_urls` trusts (the
token never goes anywhere else), with every id percent-encoded in the path; it reads who
is in a conversation (to keep account data away from guests and other organisations),
and keeps chart images for cards, which Teams can only show by URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from microsoft_agents.activity import Activity

from bot.adapters.charts import render_png
from bot.adapters.teams.auth import HTTP_TIMEOUT, ConnectorAuthError, ConnectorTokens
from bot.adapters.teams.render import fallback_text, to_attachment, with_mentions
from bot.adapters.teams.service_urls import ServiceHosts, connector_url, is_loopback_url
from core.messages import Card
from core.settings import Settings
from storage import teams as references
from storage.db import write_transaction

log = logging.getLogger(__name__)

ROSTER_TTL = 300.0  # seconds a conversation's members are trusted before asking again
CHART_LIFETIME = timedelta(days=30)


class ConnectorError(Exception):
    """The Bot Connector refused a call; ``status`` and ``retry_after`` say how."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


class UntrustedServiceUrl(ConnectorError):
    """A service URL Steward does not talk to (not in TEAMS_SERVICE_HOSTS, or not loopback
    in anonymous development mode); nothing was sent."""

    def __init__(self, service_url: str) -> None:
        super().__init__(403, f"untrusted service URL {service_url[:200]!r}")
        self.service_url = service_url


@dataclass(frozen=True, slots=True)
class Member:
    """Someone in a conversation, as the roster describes them."""

    id: str
    name: str | None
    aad_object_id: str | None
    email: str | None
    user_role: str | None  # user, guest, anonymous
    tenant_id: str | None

    def external(self, home_tenants: frozenset[str]) -> bool:
        """A guest, an anonymous user, or a member of another organisation (federated)."""
        if (self.user_role or "user").lower() in ("guest", "anonymous"):
            return True
        return bool(self.tenant_id and home_tenants and self.tenant_id.lower() not in home_tenants)


def member_of(data: dict[str, Any]) -> Member:
    """A roster entry (Teams' TeamsChannelAccount) as a Member."""
    return Member(
        id=str(data.get("id") or ""),
        name=data.get("name"),
        aad_object_id=data.get("aadObjectId"),
        email=data.get("email") or data.get("userPrincipalName"),
        user_role=data.get("userRole"),
        tenant_id=data.get("tenantId"),
    )


def conversation_root(conversation_id: str) -> str:
    """A channel thread's id without ``;messageid=...``: the channel itself."""
    return conversation_id.split(";", 1)[0]


def error_of(exc: Exception) -> ConnectorError:
    """What went wrong in a connector call, with Retry-After when Teams throttled."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        retry_after = None
        header = response.headers.get("Retry-After")
        if header:
            try:
                retry_after = max(0.0, float(header))
            except ValueError:
                retry_after = None
        return ConnectorError(response.status_code, response.text[:300], retry_after)
    return ConnectorError(0, f"{type(exc).__name__}: {exc}"[:300])


class Connector:
    """Clients for the Bot Connector, a roster cache and the activities Steward sends."""

    def __init__(
        self,
        tokens: ConnectorTokens | None,
        *,
        home_tenants: frozenset[str],
        engine: Any,
        public_url: str | None,
        trusts: Callable[[str], bool],
    ) -> None:
        self.tokens = tokens  # None in anonymous development mode: calls go without a token
        self.trusts = trusts  # whether a service URL may be called (and get the token)
        self.home_tenants = home_tenants
        self.engine = engine
        self.public_url = public_url.rstrip("/") if public_url else None
        self._rosters: dict[str, tuple[float, list[Member]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, engine: Any) -> Connector:
        """A connector with the app's credentials for TEAMS_SERVICE_HOSTS; in anonymous
        development mode, no credentials and loopback service URLs only."""
        password = settings.microsoft_app_password
        tokens = None
        anonymous = settings.teams_allow_anonymous
        hosts = ServiceHosts.of(settings.teams_service_hosts)
        if settings.microsoft_app_id and password is not None and not anonymous:
            tokens = ConnectorTokens(
                app_id=settings.microsoft_app_id,
                app_password=password.get_secret_value(),
                tenant_id=settings.microsoft_app_tenant_id or "botframework.com",
                token_url=settings.microsoft_token_url,
            )
        return cls(
            tokens,
            home_tenants=settings.allowed_tenants(),
            engine=engine,
            public_url=settings.public_url,
            trusts=is_loopback_url if anonymous else hosts.allows,
        )

    async def call(
        self, method: str, service_url: str, *segments: str, body: dict[str, Any] | None = None
    ) -> Any:
        """One Bot Connector call (``/v3/conversations/<segments>``); its JSON answer.

        Raises :class:`UntrustedServiceUrl` before anything is sent (a token least of all)
        when the service URL is not trusted, and :class:`ConnectorError` when the call fails.
        """
        if not self.trusts(service_url):
            raise UntrustedServiceUrl(service_url)
        url = connector_url(service_url, *segments)
        try:
            headers = {"Accept": "application/json"}
            if self.tokens is not None:
                headers["Authorization"] = f"Bearer {await self.tokens.token()}"
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
                response = await http.request(method, url, json=body, headers=headers)
                response.raise_for_status()
                return response.json() if response.content else {}
        except (httpx.HTTPError, ValueError, ConnectorAuthError) as exc:  # ValueError: not JSON
            raise self._refused(exc) from exc

    async def members(self, service_url: str, conversation_id: str) -> list[Member] | None:
        """Who is in a conversation (cached a few minutes); None when Teams would not say."""
        key = conversation_root(conversation_id)
        cached = self._rosters.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            accounts = await self.call("GET", service_url, key, "members")
        except ConnectorError as exc:
            log.warning("roster of %s not available: %s", key, exc)
            return None
        if not isinstance(accounts, list):
            log.warning("roster of %s not available: not a list", key)
            return None
        found = [member_of(a) for a in accounts if isinstance(a, dict)]
        self._rosters[key] = (time.monotonic() + ROSTER_TTL, found)
        return found

    def any_external(self, members: Iterable[Member]) -> bool:
        """Whether anyone in the conversation is a guest or from another organisation."""
        return any(m.external(self.home_tenants) for m in members)

    async def chart_url(self, card: Card) -> str | None:
        """Draw the card's chart, keep it, and return its URL (None without a public URL)."""
        if card.chart is None or self.public_url is None:
            return None
        png = await asyncio.to_thread(render_png, card.chart)
        chart_id = await asyncio.to_thread(self._keep_chart, png)
        return f"{self.public_url}/charts/{chart_id}.png"

    def _keep_chart(self, png: bytes) -> str:
        from services.container import utc_now

        now = utc_now()
        with write_transaction(self.engine) as conn:
            references.prune_charts(conn, before=now - CHART_LIFETIME)
            return references.put_chart(conn, png, now=now)

    async def activity(
        self, card: Card, people: Mapping[str, tuple[str, str]] | None = None
    ) -> Activity:
        """A message activity carrying the card (and its chart, when it can be shown), with
        ``people`` (handle -> Teams id and name) mentioned where its footer names them."""
        url = await self.chart_url(card)
        attachment = to_attachment(card, chart_url=lambda _chart: url)
        if people:
            attachment["content"] = with_mentions(attachment["content"], people)
        summary = fallback_text(card)
        return Activity.model_validate(
            {
                "type": "message",
                "summary": summary[:250],
                "attachments": [attachment],
            }
        )

    def _refused(self, exc: Exception) -> ConnectorError:
        """The error of a call; a refused token is forgotten, so the next call gets a new one."""
        error = error_of(exc)
        if error.status == 401 and self.tokens is not None:
            self.tokens.invalidate()
        return error

    async def send(self, service_url: str, conversation_id: str, activity: Activity) -> str:
        """Post a new message to a conversation; return its activity id."""
        answer = await self.call(
            "POST", service_url, conversation_id, "activities", body=_json(activity)
        )
        return str(answer.get("id") or "")

    async def reply(
        self, service_url: str, conversation_id: str, activity_id: str, activity: Activity
    ) -> str:
        """Answer an activity (in its thread, in a channel); return the new activity id."""
        activity.reply_to_id = activity_id
        answer = await self.call(
            "POST", service_url, conversation_id, "activities", activity_id, body=_json(activity)
        )
        return str(answer.get("id") or "")


def _json(activity: Activity) -> dict[str, Any]:
    """An activity as the Bot Connector takes it (aliases, nothing unset or empty)."""
    return activity.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")
