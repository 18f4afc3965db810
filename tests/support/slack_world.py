"""A scored book, a fake Slack and Steward's web app, for the Slack end-to-end tests."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import httpx
from slack_sdk.models.blocks import Block
from sqlalchemy.engine import Engine

from bot.web import create_app
from core.settings import IngestLimits, load_settings
from demo.book import generate_book
from demo.seeding import send_book
from handlers.api.payloads import validate
from services import scoring
from services.container import Services, build_services
from services.ingest import store
from signals.config import ScoringConfig
from storage import tables
from tests.support.fakes.slack import FakeSlack
from tests.support.server import SLACK_USER_EMAIL, LiveServer
from tests.support.slack_signing import interaction_body, signed_headers, slash_command_body

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test"
START = date(2025, 6, 1)
DAYS = 200
END = START + timedelta(days=DAYS - 1)
NOW = datetime.combine(END + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
NAMES = {"acme": "Zorblax Corp", "labs": "Zorblax Labs", "globex": "Quibble Inc"}
CASEY = SLACK_USER_EMAIL


@dataclass
class Book:
    """Ids of the accounts the tests talk about."""

    ids: dict[str, str]  # "acme" / "labs" / "globex" -> account id
    count: int


def seed_book(engine: Engine) -> Book:
    """Generate a small book, send it through ingestion, name three accounts, score it."""
    with engine.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(table.delete())
    book = generate_book(seed=7, accounts=24, start=START, days=DAYS, events_per_day_cap=4)
    limits = IngestLimits()
    send_book(engine, book, now=NOW, limits=limits)
    by_shape = {t.shape: a for a, t in sorted(book.truth.items())}
    ids = {
        "acme": by_shape.get("declining") or sorted(book.truth)[0],
        "labs": by_shape.get("growing") or sorted(book.truth)[1],
        "globex": by_shape.get("steady") or sorted(book.truth)[2],
    }
    renamed = [
        {"id": ids[key], "name": name, "csm": CASEY if key != "globex" else "someone@example.com"}
        for key, name in NAMES.items()
    ]
    checked = validate("accounts", renamed, now=NOW, limits=limits)
    assert not checked.errors, checked.errors
    store(engine, "accounts", [m for _, m in checked.items], now=NOW)
    config = ScoringConfig.from_mapping({})
    for as_of in (END - timedelta(days=7), END):  # a week apart: /health shows the change
        scoring.score_day(engine, as_of=as_of, config=config, now=NOW)
    return Book(ids, len(book.truth))


def slack_services(engine: Engine, database_url: str, fake: FakeSlack, **extra: Any) -> Services:
    settings = load_settings(
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.base_url,
        **extra,
    )
    return build_services(settings, engine=engine)


@dataclass
class SlackClient:
    """Posts to /slack/events signed the way Slack signs."""

    url: str
    fake: FakeSlack
    secret: str = SIGNING_SECRET

    def command(
        self, command: str, text: str, name: str, *, timestamp: int | None = None, **kw: Any
    ) -> httpx.Response:
        body = slash_command_body(command, text, response_url=self.fake.response_url(name), **kw)
        return self.post(body, timestamp=timestamp)

    def click(self, button: dict[str, Any], name: str, **kw: Any) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "team": {"id": kw.get("team_id", "T0STEWARD"), "domain": "steward-test"},
            "user": {
                "id": kw.get("user_id", "U123"),
                "username": kw.get("username", "casey"),
                "team_id": "T0STEWARD",
            },
            "api_app_id": "A0STEWARD",
            "channel": {"id": kw.get("channel_id", "C123"), "name": "cs-team"},
            "response_url": self.fake.response_url(name),
            "trigger_id": "1.2.3",
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "b1",
                    "value": button.get("value", ""),
                    "action_ts": f"{time.time():.6f}",
                }
                if button.get("type") != "overflow"
                else {
                    "type": "overflow",
                    "action_id": button["action_id"],
                    "block_id": "b1",
                    "selected_option": button["selected_option"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if kw.get("message_ts"):  # a click on a message Steward posted (not an ephemeral answer)
            payload["container"] = {
                "type": "message",
                "message_ts": kw["message_ts"],
                "channel_id": kw.get("channel_id", "C123"),
                "is_ephemeral": False,
            }
        return self.post(interaction_body(payload))

    def post(
        self, body: str, *, timestamp: int | None = None, secret: str | None = None
    ) -> httpx.Response:
        headers = signed_headers(body, secret or self.secret, timestamp=timestamp)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return httpx.post(f"{self.url}/slack/events", content=body, headers=headers, timeout=10)


def serve(
    services: Services, fake: FakeSlack, *, lifespan: Literal["on", "off"] = "off"
) -> tuple[LiveServer, SlackClient]:
    server = LiveServer(create_app(services), lifespan=lifespan)
    return server, SlackClient(server.url, fake)


def valid_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Parse every block with slack_sdk's models (their validators raise on bad blocks)."""
    assert message["text"].strip(), "a message needs fallback text"
    blocks = message["blocks"]
    assert 0 < len(blocks) <= 50
    for raw in blocks:
        parsed = Block.parse(raw)
        assert parsed is not None, raw
        assert parsed.to_dict()["type"] == raw["type"]
    return list(blocks)


def texts(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message, as one string."""
    raw = json.dumps(message["blocks"], ensure_ascii=False) + message.get("text", "")
    return raw.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's buttons by their label."""
    found = {}
    for block in message["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["type"] == "overflow":  # "More": each option as Slack sends its pick
                for option in element["options"]:
                    found[option["text"]["text"]] = {
                        "type": "overflow",
                        "action_id": element["action_id"],
                        "selected_option": option,
                    }
            else:
                found[element["text"]["text"]] = element
    return found
