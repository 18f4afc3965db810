"""The Teams adapter: POST /api/messages, authenticated, translated, answered with cards.

Every activity's Bot Framework token is checked first (signature, audience, issuer,
service URL); then its service URL must be a Bot Framework host (TEAMS_SERVICE_HOSTS) and
its tenant one of TEAMS_TENANTS. What passes refreshes the conversation's reference (so
digests and alerts can be posted later) and is
translated into the neutral handlers' requests: a message (``health acme``, in a
personal chat or by @mention in a channel) becomes a CommandRequest, a card button
(``Action.Execute``) an ActionRequest. Cards come back as Adaptive Cards: a button's
answer replaces the card it was on, in place, for everyone in the conversation.

TEAMS_ALLOW_ANONYMOUS (local development) also takes activities without a token, but
only from a loopback caller naming a loopback service URL, and remembers nothing of
them: no address an anonymous caller chose outlives the process.

Teams shows every answer to the whole conversation (it has no private replies like
Slack's ephemeral messages), so account data goes only where every member may see it:
no guests or other organisations' users unless TEAMS_SHARED_CONVERSATIONS allows it.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from microsoft_agents.activity import Activity
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.adapters.teams.auth import BotFrameworkAuth, Unauthorized
from bot.adapters.teams.connector import (
    Connector,
    ConnectorError,
    Member,
    conversation_root,
)
from bot.adapters.teams.render import action_of, message_invoke_response, to_invoke_response
from bot.adapters.teams.service_urls import is_loopback_host
from core import metrics
from core.messages import Card
from handlers.chat.access import Asker, Decision, Place, PlaceKind, decide, policy_from
from handlers.chat.actions import ActionRequest, ActionResult, handle_action
from handlers.chat.commands import (
    STEWARD_SUBCOMMANDS,
    handle,
    help_card,
    without_share,
)
from handlers.chat.context import CommandRequest, Person
from services.container import Services
from storage import teams as references
from storage.db import write_transaction

log = logging.getLogger(__name__)

PLATFORM = "teams"
MENTION = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
KINDS: dict[str, PlaceKind] = {"personal": "dm", "channel": "channel", "groupChat": "group_dm"}
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")  # a proxy's remote caller
WELCOME = (
    "Hello! I am Steward. Ask me about an account: health acme, value acme 30d, "
    "forecast acme; or risks, expansions, book. In a channel, mention me first. "
    "Type help for everything, and subscribe digest here to get a morning digest."
)


@dataclass(frozen=True, slots=True)
class Inbound:
    """An activity that passed authentication, with what every step needs from it."""

    activity: Activity
    raw: Mapping[str, Any]
    service_url: str
    conversation_id: str  # as Teams named it (a channel thread has ;messageid=...)
    kind: str  # personal, channel, groupChat
    tenant_id: str | None
    members: list[Member] | None = None  # the roster, read for messages and clicks

    @property
    def sender(self) -> Member | None:
        """The sender as the roster lists them (None without a roster, or not in it)."""
        sender = self.activity.from_property
        return _find(self.members or [], sender.id if sender else None)

    @property
    def channel(self) -> str:
        """The conversation Steward posts to and subscriptions name (the channel itself)."""
        return conversation_root(self.conversation_id)

    @property
    def personal(self) -> bool:
        return self.kind == "personal"


class TeamsAdapter:
    """Authenticate, remember, translate, answer."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.services = services
        self.app_id = settings.microsoft_app_id or ""
        self.anonymous = settings.teams_allow_anonymous
        self.tenants = settings.allowed_tenants()
        self.auth = (
            BotFrameworkAuth(
                app_id=self.app_id, openid_metadata_url=settings.teams_openid_metadata_url
            )
            if self.app_id
            else None
        )
        self.connector = Connector.from_settings(settings, services.engine)
        self.policy = policy_from(
            settings.teams_shared_conversations, settings.teams_command_channels, ()
        )
        self.config = settings.scoring_config()
        if self.anonymous:
            log.warning(
                "TEAMS_ALLOW_ANONYMOUS is on: /api/messages trusts requests without a Bot "
                "Framework token from loopback callers (answered on a loopback serviceUrl, "
                "remembered nowhere). Use this only for local development, never in production."
            )

    async def receive(self, request: Request) -> Response:
        """Handle one POST /api/messages."""
        try:
            raw = await request.json()
            activity = Activity.model_validate(raw)
        except Exception:
            return JSONResponse({"error": "bad_request", "message": "not an activity"}, 400)
        try:
            authenticated = await self._authenticate(request.headers.get("authorization"), activity)
        except Unauthorized as exc:
            log.warning("teams activity refused: %s", exc)
            return JSONResponse(
                {"error": "unauthorized", "message": "invalid or missing Bot Framework token"},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="steward"'},
            )
        inbound = _inbound(activity, raw)
        if inbound is None:
            return JSONResponse({"error": "bad_request", "message": "no conversation"}, 400)
        refusal = self._refusal(request, inbound, authenticated=authenticated)
        if refusal is not None:
            return _forbidden(refusal)
        if activity.type in ("message", "invoke"):  # the roster decides who may see what
            members = await self.connector.members(inbound.service_url, inbound.channel)
            inbound = replace(inbound, members=members)
        if authenticated:  # an anonymous caller's addresses are not kept past this request
            await asyncio.to_thread(self._remember, inbound)
        started = time.perf_counter()
        response = await self._dispatch(inbound)
        log.info(
            "teams %s by %s in %s: done in %.0f ms",
            activity.type,
            (activity.from_property.aad_object_id if activity.from_property else None),
            inbound.channel,
            (time.perf_counter() - started) * 1000,
        )
        return response

    async def _authenticate(self, authorization: str | None, activity: Activity) -> bool:
        """Whether a valid token came (False: none, and anonymous mode allows that)."""
        if not authorization and self.anonymous:
            return False
        if self.auth is None:
            raise Unauthorized("no MICROSOFT_APP_ID to check tokens against")
        channel = activity.channel_id
        await self.auth.validate(
            authorization,
            service_url=activity.service_url,
            channel_id=channel.channel if channel is not None else None,
        )
        return True

    def _refusal(self, request: Request, inbound: Inbound, *, authenticated: bool) -> str | None:
        """Why an activity is refused (None: it is not): caller, service URL, tenant."""
        if not authenticated and not _from_loopback(request):
            log.warning("anonymous teams activity from %s refused: not loopback", request.client)
            return "anonymous development mode answers loopback callers only"
        if not self.connector.trusts(inbound.service_url):
            log.warning("teams activity refused: untrusted serviceUrl %r", inbound.service_url)
            if self.anonymous:
                return "anonymous development mode answers a loopback serviceUrl only"
            return "the serviceUrl is not a Bot Framework host in TEAMS_SERVICE_HOSTS"
        if not self._tenant_allowed(inbound.tenant_id, authenticated=authenticated):
            log.warning("teams activity from tenant %s refused: not allowed", inbound.tenant_id)
            return "this tenant may not use this Steward"
        return None

    def _tenant_allowed(self, tenant_id: str | None, *, authenticated: bool) -> bool:
        if not tenant_id:
            return not authenticated  # the emulator sends none; Teams always does
        return tenant_id.lower() in self.tenants

    def _remember(self, inbound: Inbound) -> None:
        a = inbound.activity
        sender = a.from_property
        personal = inbound.personal
        data = inbound.raw.get("channelData") or {}
        conversation = references.Conversation(
            conversation_id=inbound.channel,
            service_url=inbound.service_url,
            kind=inbound.kind,
            bot_id=str(a.recipient.id if a.recipient else self.app_id),
            tenant_id=inbound.tenant_id,
            team_id=(data.get("team") or {}).get("id"),
            name=(data.get("channel") or {}).get("name")
            or (a.conversation.name if a.conversation else None),
            user_id=sender.id if personal and sender else None,
            user_aad_id=sender.aad_object_id if personal and sender else None,
            user_email=inbound.sender.email if personal and inbound.sender else None,
            user_name=sender.name if personal and sender else None,
            installed=not _removed(inbound),
        )
        with write_transaction(self.services.engine) as conn:
            references.remember(conn, conversation, now=self.services.clock())

    async def _dispatch(self, inbound: Inbound) -> Response:
        a = inbound.activity
        if a.type == "invoke" and a.name == "adaptiveCard/action":
            return JSONResponse(await self._invoke(inbound))
        if a.type == "message" and isinstance(a.value, Mapping) and not (a.text or "").strip():
            await self._submitted(inbound)  # Action.Submit from an older client
            return Response(status_code=200)
        if a.type == "message":
            await self._message(inbound)
            return Response(status_code=200)
        if a.type in ("conversationUpdate", "installationUpdate") and _added(inbound, self.app_id):
            await self._welcome(inbound)
        return Response(status_code=200)

    async def _decide(self, inbound: Inbound) -> tuple[Decision, Person]:
        """Whether account data may be shown here, and who is asking."""
        a = inbound.activity
        sender = a.from_property
        members, me = inbound.members, inbound.sender
        person = Person(
            id=(sender.aad_object_id or sender.id) if sender else "",
            email=me.email if me else None,
            name=(sender.name if sender else None) or (me.name if me else None),
            tz=a.local_timezone,
        )
        if members is None or me is None:
            refusal = Decision(
                False,
                reason=(
                    "Steward could not confirm with Teams who is in this conversation, "
                    "so it shows no account data here."
                ),
                may_share=False,
            )
            return refusal, person
        asker = Asker(id=person.id, external=me.external(self.tenants))
        external = asker.external if inbound.personal else self.connector.any_external(members)
        place = Place(
            id=inbound.channel, kind=KINDS.get(inbound.kind, "unknown"), external=external
        )
        return decide(place, asker, self.policy, bot_dm=inbound.personal), person

    async def _message(self, inbound: Inbound) -> None:
        a = inbound.activity
        decision, person = await self._decide(inbound)
        if not decision.allowed:
            card = Card(title="Not answered here", summary=decision.reason)
        else:
            request = command_of(a, inbound, person, self.app_id)
            if request is None:
                card = help_card(platform=PLATFORM)
            else:
                ctx = self.services.chat_context(decision, self.config)
                with metrics.command_timer(PLATFORM, request.command):
                    card = await asyncio.to_thread(handle, request, ctx)
        await self._reply(inbound, without_share(card))

    async def _invoke(self, inbound: Inbound) -> dict[str, Any]:
        """A card button (Action.Execute): the answer replaces the card, or follows it."""
        value = inbound.activity.value
        action = value.get("action") if isinstance(value, Mapping) else None
        clicked = action_of(action.get("data") if isinstance(action, Mapping) else None)
        if clicked is None:
            return message_invoke_response("Steward does not know this button.")
        decision, person = await self._decide(inbound)
        if not decision.allowed:
            return message_invoke_response(decision.reason)
        result = await self._click(inbound, clicked, person, decision)
        if result.replace_original:
            card = without_share(result.card)
            url = await self.connector.chart_url(card)
            return to_invoke_response(card, chart_url=lambda _chart: url)
        await self._reply(inbound, without_share(result.card))
        return message_invoke_response(result.card.title)

    async def _submitted(self, inbound: Inbound) -> None:
        clicked = action_of(inbound.activity.value or {})
        if clicked is None:
            return
        decision, person = await self._decide(inbound)
        if not decision.allowed:
            await self._reply(inbound, Card(title="Not answered here", summary=decision.reason))
            return
        result = await self._click(inbound, clicked, person, decision)
        await self._reply(inbound, without_share(result.card))

    async def _click(
        self, inbound: Inbound, clicked: tuple[str, str], person: Person, decision: Decision
    ) -> ActionResult:
        action, value = clicked
        reply_to = inbound.activity.reply_to_id
        message = (inbound.channel, reply_to) if reply_to else None
        request = ActionRequest(action, value, person, PLATFORM, message)
        ctx = self.services.chat_context(decision, self.config)
        with metrics.command_timer(PLATFORM, f"button:{action}"):
            return await asyncio.to_thread(handle_action, request, ctx)

    async def _welcome(self, inbound: Inbound) -> None:
        card = replace(help_card(platform=PLATFORM), title="Steward is here", summary=WELCOME)
        await self._reply(inbound, card)

    async def _reply(self, inbound: Inbound, card: Card) -> None:
        activity = await self.connector.activity(card)
        reply_to = inbound.activity.id
        try:
            if reply_to and inbound.activity.type == "message":
                await self.connector.reply(
                    inbound.service_url, inbound.conversation_id, reply_to, activity
                )
            else:
                await self.connector.send(inbound.service_url, inbound.conversation_id, activity)
        except ConnectorError as exc:
            log.warning("teams answer in %s not delivered: %s", inbound.channel, exc)


def _forbidden(message: str) -> JSONResponse:
    return JSONResponse({"error": "forbidden", "message": message}, 403)


def _from_loopback(request: Request) -> bool:
    """A caller on this machine, not one a proxy on this machine forwarded."""
    client = request.client
    if client is None or not is_loopback_host(client.host):
        return False
    return not any(name in request.headers for name in FORWARDING_HEADERS)


def _inbound(activity: Activity, raw: Mapping[str, Any]) -> Inbound | None:
    conversation = activity.conversation
    if conversation is None or not conversation.id or not activity.service_url:
        return None
    data = raw.get("channelData") or {}
    tenant = (data.get("tenant") or {}).get("id") or conversation.tenant_id
    return Inbound(
        activity=activity,
        raw=raw,
        service_url=activity.service_url,
        conversation_id=conversation.id,
        kind=conversation.conversation_type or "personal",
        tenant_id=tenant,
    )


def _find(members: list[Member], member_id: str | None) -> Member | None:
    return next((m for m in members if member_id and m.id == member_id), None)


def _added(inbound: Inbound, app_id: str) -> bool:
    a = inbound.activity
    if a.type == "installationUpdate":
        return (a.action or "").startswith("add")
    bot_id = a.recipient.id if a.recipient else None
    return any(m.id in (bot_id, app_id, f"28:{app_id}") for m in a.members_added or [])


def _removed(inbound: Inbound) -> bool:
    a = inbound.activity
    if a.type == "installationUpdate":
        return (a.action or "").startswith("remove")
    bot_id = a.recipient.id if a.recipient else None
    return any(m.id == bot_id for m in a.members_removed or [])


def command_of(
    activity: Activity, inbound: Inbound, person: Person, app_id: str
) -> CommandRequest | None:
    """``health acme`` (or ``/health acme``, ``steward risks``) as a CommandRequest.

    The @mention of Steward is dropped; other people mentioned (``book @Casey``) become
    ``mentioned``. An unknown first word gets the help card; None when nothing is typed.
    """
    bot_id = activity.recipient.id if activity.recipient else None
    mentioned: list[Person] = []
    for entity in activity.entities or []:
        data = entity.model_dump(by_alias=True, exclude_none=True)
        who = data.get("mentioned") or {}
        if data.get("type") == "mention" and who.get("id") not in (bot_id, app_id):
            mentioned.append(Person(id=str(who.get("id") or ""), name=who.get("name")))
    text = html.unescape(MENTION.sub(" ", activity.text or ""))
    text = re.sub(r"<[^>]+>", " ", text)  # Teams wraps messages in HTML
    words = text.split()
    if not words:
        return None
    first = words[0].lower().lstrip("/")
    rest = " ".join(words[1:])
    request = CommandRequest(
        first, rest, person, channel=inbound.channel, platform=PLATFORM, direct=inbound.personal
    )
    if first == "steward":
        return replace(request, mentioned=tuple(mentioned))
    if first in STEWARD_SUBCOMMANDS:
        text = " ".join([first, rest]).strip()
        return replace(request, command="steward", text=text, mentioned=tuple(mentioned))
    return request  # an account command, ask, or help for an unknown word
