"""The App Home: published when a person opens it, and again when their alerts change."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any

import httpx
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from sqlalchemy.engine import Engine

from bot.adapters.slack.outbox import SlackOutbox
from core.messages import ButtonValue
from digests.alerts import Evaluation, PassReport, record, route
from storage.db import write_transaction
from storage.subscriptions import list_subscriptions
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import subscribe
from tests.support.slack_signing import signed_headers
from tests.support.slack_world import (
    BOT_TOKEN,
    NAMES,
    NOW,
    SIGNING_SECRET,
    Book,
    seed_book,
    serve,
    slack_services,
)


def open_home(url: str, user: str) -> httpx.Response:
    body = json.dumps(
        {
            "token": "verification-token",
            "team_id": "T0STEWARD",
            "api_app_id": "A0STEWARD",
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D0HOME",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
        }
    )
    headers = signed_headers(body, SIGNING_SECRET)
    headers["Content-Type"] = "application/json"
    return httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=10)


def valid_home(params: dict[str, Any]) -> dict[str, Any]:
    """The published view, checked with slack_sdk's models (they raise on a bad view)."""
    view: dict[str, Any] = params["view"]
    assert view["type"] == "home"
    assert 0 < len(view["blocks"]) <= 100
    for raw in view["blocks"]:
        parsed = Block.parse(raw)
        assert parsed is not None, raw
        assert parsed.to_dict()["type"] == raw["type"]
    View(**view).validate_json()
    return view


def seen(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def buttons(view: dict[str, Any]) -> list[str]:
    """Every button's label, those in a "More" menu included."""
    out: list[str] = []
    for b in view["blocks"]:
        for e in b["elements"] if b["type"] == "actions" else []:
            if e["type"] == "overflow":
                out.extend(o["text"]["text"] for o in e["options"])
            else:
                out.append(e["text"]["text"])
    return out


def test_opening_the_home_shows_the_persons_book(
    db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    seed_book(db)
    server, _ = serve(slack_services(db, database_url, fake_slack), fake_slack)
    with server:
        assert open_home(server.url, "U123").status_code == 200
        [call] = fake_slack.wait_for_calls("views.publish", 1)
    assert call.params["user_id"] == "U123"
    view = valid_home(call.params)
    text = seen(view)
    assert "Book of Casey" in text
    assert "Needs attention today" in text
    assert "Renewals in the next 90 days" in text
    assert "Your subscriptions and follows" in text
    assert NAMES["acme"] in text  # Casey's account
    assert NAMES["globex"] not in text  # someone else's


def test_a_guest_opening_the_home_sees_no_account_data(
    db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    seed_book(db)
    fake_slack.add_user("UGUEST", name="gus", restricted=True, email="casey@example.com")
    server, _ = serve(slack_services(db, database_url, fake_slack), fake_slack)
    with server:
        open_home(server.url, "UGUEST")
        [call] = fake_slack.wait_for_calls("views.publish", 1)
    text = seen(valid_home(call.params))
    assert "full members of this workspace only" in text
    assert NAMES["acme"] not in text


def test_an_alert_about_their_account_refreshes_the_home_with_its_buttons(
    db: Engine, fake_slack: FakeSlack
) -> None:
    book: Book = seed_book(db)
    acme = book.ids["acme"]
    subscribe(db, "C123", "alerts", NOW)
    evaluation = Evaluation(
        account_id=acme,
        name=NAMES["acme"],
        csm="casey@example.com",
        ae=None,
        segment=None,
        tier="scaled",
        flags={},
    )
    for at, flags in ((NOW, {}), (NOW, {"usage_drop": "Usage down 45% in two weeks"})):
        report = PassReport(baseline=not flags)
        with write_transaction(db) as conn:
            changed = replace(evaluation, flags=flags)
            notices = record(conn, [changed], now=at, baseline=not flags, report=report)
            route(conn, notices, list_subscriptions(conn), platform="slack", now=at, report=report)
    assert SlackOutbox.from_settings(db, BOT_TOKEN, fake_slack.base_url).send_due(NOW).sent >= 1
    [call] = fake_slack.wait_for_calls("views.publish", 1)
    assert call.params["user_id"] == "U123"  # casey@example.com, found by email
    view = valid_home(call.params)
    assert "Usage down 45% in two weeks" in seen(view)
    assert {"Acknowledge", "Snooze 1 day", "Snooze 7 days"} <= set(buttons(view))


def test_acknowledging_from_the_home_publishes_it_again(
    db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    acme = seed_book(db).ids["acme"]
    server, slack = serve(slack_services(db, database_url, fake_slack), fake_slack)
    with server:
        open_home(server.url, "U123")
        fake_slack.wait_for_calls("views.publish", 1)
        value = ButtonValue("health", acme).encode()
        book_button = {"action_id": "steward:details", "value": value}  # changes no alert
        slack.click(book_button, "details")
        fake_slack.wait_for_responses("details", 1)
        assert len(fake_slack.calls_to("views.publish")) == 1
        ack = {"action_id": "steward:ack", "value": value}
        slack.click(ack, "ack")
        fake_slack.wait_for_responses("ack", 1)
        calls = fake_slack.wait_for_calls("views.publish", 2)
    assert calls[1].params["user_id"] == "U123"
    valid_home(calls[1].params)
