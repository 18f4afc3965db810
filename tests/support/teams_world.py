"""Steward's web app next to a fake Bot Framework, and Teams activities signed like Teams'.

``teams_services`` points Steward at the fake (its OpenID metadata, token endpoint and
Bot Connector); ``TeamsServer`` serves the app on loopback with STEWARD_PUBLIC_URL set
to its own address (chart images); ``TeamsClient`` posts activities to /api/messages
with a Bot Framework token signed by the fake's key, as Teams does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine

from bot.web import create_app
from core.settings import load_settings
from services.container import Services, build_services
from tests.support.fakes.teams import FakeBotFramework
from tests.support.server import SLACK_USER_EMAIL, LiveServer

CASEY = {"id": "29:casey", "name": "Casey Jones", "aad": "aad-casey", "email": SLACK_USER_EMAIL}
DANA = {"id": "29:dana", "name": "Dana Guest", "aad": "aad-dana", "email": "dana@partner.example"}
PERSONAL = "a:1casey-personal-chat"
CHANNEL = "19:cs-team@thread.tacv2"
TEAM = "19:team@thread.tacv2"
_ids = itertools.count(1_700_000_000_000)


def teams_services(
    engine: Engine, database_url: str, fake: FakeBotFramework, **extra: Any
) -> Services:
    """Services for a Steward whose Teams app is the fake's (tokens, keys, connector).

    TEAMS_SERVICE_HOSTS names the fake's address (host and port), as a deployment names
    the Bot Framework's hosts: another server on loopback is not trusted with the token.
    """
    extra.setdefault("teams_service_hosts", [urlsplit(fake.url).netloc])
    settings = load_settings(
        database_url=database_url,
        microsoft_app_id=fake.app_id,
        microsoft_app_password=fake.app_password,
        microsoft_app_tenant_id=fake.tenant_id,
        teams_openid_metadata_url=fake.openid_metadata_url,
        microsoft_token_url=fake.token_url,
        **extra,
    )
    return build_services(settings, engine=engine)


class _Late:
    """An ASGI app set after the server's address is known (the app needs its own URL)."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@contextmanager
def serve_teams(
    engine: Engine, database_url: str, fake: FakeBotFramework, **extra: Any
) -> Iterator[tuple[Services, TeamsClient]]:
    """Steward on loopback, Teams pointed at the fake, charts served from its own URL."""
    late = _Late()
    server = LiveServer(late)
    extra.setdefault("public_url", server.url)
    services = teams_services(engine, database_url, fake, **extra)
    late.app = create_app(services)
    with server:
        yield services, TeamsClient(server.url, fake)


def member(fake: FakeBotFramework, conversation: str, who: dict[str, str], **kw: Any) -> None:
    """Put someone in a conversation's roster, as Teams would list them."""
    fake.add_member(
        conversation, who["aad"], who["name"], email=who["email"], member_id=who["id"], **kw
    )


@dataclass
class TeamsClient:
    """Posts activities to /api/messages the way the Bot Framework does."""

    url: str
    fake: FakeBotFramework
    sent: list[dict[str, Any]] = field(default_factory=list)

    def activity(
        self,
        kind: str = "message",
        *,
        text: str | None = None,
        conversation: str = PERSONAL,
        conversation_type: str = "personal",
        sender: dict[str, str] = CASEY,
        tenant: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A Teams activity (personal chat with Casey by default)."""
        tenant = tenant or self.fake.tenant_id
        body: dict[str, Any] = {
            "type": kind,
            "id": str(next(_ids)),
            "timestamp": "2026-11-23T09:00:00.000Z",
            "serviceUrl": self.fake.service_url,
            "channelId": "msteams",
            "from": {"id": sender["id"], "name": sender["name"], "aadObjectId": sender["aad"]},
            "conversation": {
                "conversationType": conversation_type,
                "tenantId": tenant,
                "id": conversation,
                **({"isGroup": True} if conversation_type != "personal" else {}),
            },
            "recipient": {"id": f"28:{self.fake.app_id}", "name": "Steward"},
            "locale": "en-US",
            "localTimezone": "Europe/Paris",
            "channelData": {"tenant": {"id": tenant}},
        }
        if conversation_type == "channel":
            root = conversation.split(";")[0]
            body["channelData"].update(
                {
                    "teamsChannelId": root,
                    "teamsTeamId": TEAM,
                    "channel": {"id": root, "name": "cs-team"},
                    "team": {"id": TEAM, "name": "Customer Success"},
                }
            )
        if text is not None:
            body["text"] = text
            body["textFormat"] = "plain"
        body.update(fields)
        return body

    def mention(self, text: str, *, conversation: str = CHANNEL, **kw: Any) -> dict[str, Any]:
        """A channel message that @mentions Steward, as Teams sends it."""
        thread = f"{conversation};messageid={next(_ids)}"
        body = self.activity(
            text=f"<at>Steward</at> {text}",
            conversation=thread,
            conversation_type="channel",
            **kw,
        )
        body["entities"] = [
            {
                "type": "mention",
                "text": "<at>Steward</at>",
                "mentioned": {"id": f"28:{self.fake.app_id}", "name": "Steward"},
            }
        ]
        return body

    def click(
        self,
        data: dict[str, Any],
        *,
        reply_to: str,
        conversation: str = PERSONAL,
        conversation_type: str = "personal",
        **kw: Any,
    ) -> dict[str, Any]:
        """An Action.Execute press on a card Steward posted (activity ``reply_to``)."""
        return self.activity(
            "invoke",
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": data.get("action"), "data": data},
                "trigger": "manual",
            },
            replyToId=reply_to,
            conversation=conversation,
            conversation_type=conversation_type,
            **kw,
        )

    def post(self, body: dict[str, Any], *, authorization: str | None = "signed") -> httpx.Response:
        """POST an activity; ``authorization="signed"`` signs it with the fake's key."""
        headers = {}
        if authorization == "signed":
            headers["Authorization"] = self.fake.authorization()
        elif authorization is not None:
            headers["Authorization"] = authorization
        self.sent.append(body)
        return httpx.post(f"{self.url}/api/messages", json=body, headers=headers, timeout=30)

    def say(self, text: str, **kw: Any) -> httpx.Response:
        """Casey types ``text`` in the personal chat (or where ``kw`` says)."""
        return self.post(self.activity(text=text, **kw))


def _elements(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in a card, depth first (elements, actions, facts...)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _elements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _elements(value)


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A card's Action.Execute buttons by title, with their data."""
    return {
        str(e.get("title")): dict(e.get("data") or {})
        for e in _elements(card)
        if e.get("type") == "Action.Execute"
    }


def card_text(card: dict[str, Any]) -> str:
    """Every TextBlock and fact of a card, one per line (markdown escapes removed)."""
    lines: list[str] = []
    for e in _elements(card):
        if e.get("type") == "TextBlock":
            lines.append(str(e.get("text", "")))
        if e.get("type") == "FactSet":
            lines.extend(f"{f.get('title')} {f.get('value')}" for f in e.get("facts", []))
    return "\n".join(lines).replace("\\", "")


def images(card: dict[str, Any]) -> list[str]:
    """The URLs of a card's images."""
    return [str(e.get("url")) for e in _elements(card) if e.get("type") == "Image"]


def valid_card(card: dict[str, Any]) -> dict[str, Any]:
    """Check a card against the Adaptive Card 1.5 schema (and Teams' size); return it."""
    from tests.support.adaptive import VALIDATOR

    errors = [f"{list(e.absolute_path)}: {e.message[:300]}" for e in VALIDATOR.iter_errors(card)]
    assert not errors, errors
    assert len(json.dumps(card, separators=(",", ":")).encode()) <= 28 * 1024
    return card
