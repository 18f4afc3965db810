"""Teams end to end: signed activities to /api/messages, answers through a fake Bot Connector."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from storage import teams as references
from storage.db import read_connection
from storage.subscriptions import list_subscriptions
from tests.support import teams_signing
from tests.support.fakes.teams import FakeBotFramework
from tests.support.slack_world import Book, seed_book
from tests.support.teams_world import (
    CASEY,
    CHANNEL,
    DANA,
    PERSONAL,
    buttons,
    card_text,
    images,
    member,
    serve_teams,
    valid_card,
)


@pytest.fixture
def fake_teams() -> Iterator[FakeBotFramework]:
    with FakeBotFramework() as fake:
        member(fake, PERSONAL, CASEY)
        member(fake, CHANNEL, CASEY)
        yield fake


@pytest.fixture
def book(db: Engine) -> Book:
    return seed_book(db)


def test_health_in_a_personal_chat_is_an_adaptive_card_with_its_chart(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        response = client.say("health zorblax corp")
        assert response.status_code == 200
        [reply] = fake_teams.activities(PERSONAL, kind="reply")
        assert reply.reply_to_id == client.sent[-1]["id"]  # answers the message it was asked in
        card = valid_card(reply.card or {})
        text = card_text(card)
        assert "Zorblax Corp" in text
        assert "Health" in text
        [url] = images(card)
        chart = httpx.get(url, timeout=10)
        assert chart.status_code == 200
        assert chart.headers["content-type"] == "image/png"
        assert chart.content.startswith(b"\x89PNG")
        assert "Share" not in buttons(card)  # the answer is already in the conversation
    with read_connection(db) as conn:
        known = references.get(conn, PERSONAL)
    assert known is not None
    assert known.service_url == fake_teams.service_url
    assert known.tenant_id == fake_teams.tenant_id
    assert known.user_email == CASEY["email"]  # from the roster: alerts can find Casey here


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no token", 401),
        ("unsigned", 401),
        ("signed by someone else", 401),
        ("for another app", 401),
        ("expired", 401),
        ("for another service url", 401),
    ],
)
def test_activities_without_a_valid_bot_framework_token_are_refused(
    case: str, status: int, book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    app = fake_teams.app_id
    tokens = {
        "no token": None,
        "unsigned": f"Bearer {teams_signing.unsigned_token(aud=app)}",
        "signed by someone else": "Bearer "
        + teams_signing.foreign_token(aud=app, service_url=fake_teams.service_url),
        "for another app": f"Bearer {fake_teams.token(aud='another-app')}",
        "expired": f"Bearer {fake_teams.token(expires_in=-3600)}",
        "for another service url": "Bearer "
        + fake_teams.token(service_url="https://evil.example.com/"),
    }
    with serve_teams(db, database_url, fake_teams) as (_, client):
        response = client.post(
            client.activity(text="health zorblax corp"), authorization=tokens[case]
        )
        assert response.status_code == status
        assert "Zorblax" not in response.text
    assert fake_teams.activities() == []
    with read_connection(db) as conn:
        assert references.get(conn, PERSONAL) is None  # nothing remembered from a forgery


def test_another_tenant_is_refused_and_not_remembered(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        outsider = client.activity(text="risks", tenant="99999999-9999-4999-8999-999999999999")
        response = client.post(outsider)
    assert response.status_code == 403
    assert fake_teams.activities() == []
    with read_connection(db) as conn:
        assert references.get(conn, PERSONAL) is None


def test_a_mention_in_a_channel_is_answered_in_its_thread(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        asked = client.mention("risks")
        assert client.post(asked).status_code == 200
    [reply] = fake_teams.activities(kind="reply")
    assert reply.conversation_id == asked["conversation"]["id"]  # the thread of the question
    card = valid_card(reply.card or {})
    assert "churn" in card_text(card).lower()
    with read_connection(db) as conn:
        channel = references.get(conn, CHANNEL)  # the channel itself, not the thread
    assert channel is not None
    assert channel.kind == "channel"
    assert channel.name == "cs-team"


@pytest.mark.parametrize("outsider", ["guest", "federated"])
def test_no_account_data_where_guests_or_other_organisations_can_read_it(
    outsider: str, book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    if outsider == "guest":
        member(fake_teams, CHANNEL, DANA, user_role="guest")
    else:
        member(fake_teams, CHANNEL, DANA, tenant_id="22222222-2222-4222-8222-222222222222")
    with serve_teams(db, database_url, fake_teams) as (_, client):
        client.post(client.mention("health zorblax corp"))
    [reply] = fake_teams.activities(kind="reply")
    text = card_text(valid_card(reply.card or {}))
    assert "Not answered here" in text
    assert "other organisations" in text
    assert "Zorblax" not in text


def test_an_allowed_shared_channel_gets_answers(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    member(fake_teams, CHANNEL, DANA, user_role="guest")
    with serve_teams(db, database_url, fake_teams, teams_shared_conversations=[CHANNEL]) as (
        _,
        client,
    ):
        client.post(client.mention("health zorblax corp"))
    [reply] = fake_teams.activities(kind="reply")
    assert "Zorblax Corp" in card_text(reply.card or {})


def test_an_ambiguous_name_offers_buttons_whose_answer_replaces_the_card(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        client.say("health zorblax")
        [choice] = fake_teams.activities(PERSONAL, kind="reply")
        offered = buttons(valid_card(choice.card or {}))
        assert {"Zorblax Corp", "Zorblax Labs"} <= set(offered)
        pressed = client.click(offered["Zorblax Labs"], reply_to=choice.activity_id or "")
        response = client.post(pressed)
    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    card = valid_card(body["value"])
    assert "Zorblax Labs" in card_text(card)
    assert "Which account" not in card_text(card)


def test_unknown_words_get_help_and_subscribe_works_in_a_channel(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        client.say("what can you do")
        client.post(client.mention("subscribe digest at 08:30 tz Europe/Paris"))
    help_reply, subscribed = fake_teams.activities(kind="reply")
    assert "Steward commands" in card_text(help_reply.card or {})
    assert "Subscribed" in card_text(valid_card(subscribed.card or {}))
    with read_connection(db) as conn:
        [sub] = list_subscriptions(conn, platform="teams")
    assert (sub.channel, sub.kind, sub.at_time, sub.timezone) == (
        CHANNEL,
        "digest",
        "08:30",
        "Europe/Paris",
    )


def test_being_added_to_a_team_remembers_it_and_says_hello(
    db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        added = client.activity(
            "conversationUpdate",
            conversation=CHANNEL,
            conversation_type="channel",
            membersAdded=[{"id": f"28:{fake_teams.app_id}"}],
        )
        assert client.post(added).status_code == 200
    [hello] = fake_teams.activities(CHANNEL, kind="send")
    assert "subscribe digest" in card_text(valid_card(hello.card or {}))
    with read_connection(db) as conn:
        known = references.get(conn, CHANNEL)
    assert known is not None
    assert known.installed


def test_anonymous_development_mode_is_explicit_and_loud(
    book: Book,
    db: Engine,
    database_url: str,
    fake_teams: FakeBotFramework,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.WARNING),
        serve_teams(db, database_url, fake_teams, teams_allow_anonymous=True) as (_, client),
    ):
        response = client.post(client.activity(text="risks"), authorization=None)
    assert response.status_code == 200
    assert "TEAMS_ALLOW_ANONYMOUS is on" in caplog.text
    # the answer went out, but without the app's credentials: the service URL is unverified
    [reply] = [r for r in fake_teams.requests if r.kind == "reply"]
    assert "authorization" not in reply.headers
    assert fake_teams.token_requests == []


def test_teams_off_says_how_to_turn_it_on(db: Engine, database_url: str) -> None:
    from bot.web import create_app
    from core.settings import load_settings
    from services.container import build_services
    from tests.support.server import LiveServer

    services = build_services(load_settings(database_url=database_url), engine=db)
    with LiveServer(create_app(services)) as server:
        response = httpx.post(f"{server.url}/api/messages", json={"type": "message"}, timeout=10)
    assert response.status_code == 503
    assert "MICROSOFT_APP_ID" in response.json()["message"]
