"""Who may see account data where: shared channels, external users, allow-lists; and
answers owed when a process died are still given (or said to be lost), never dropped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.container import utc_now
from storage import replies, tables
from storage.db import write_transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.slack_world import Book, SlackClient, seed_book, serve, slack_services, texts

REFUSED_SHARED = "conversations with guests or members of other organisations"


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


@pytest.fixture
def start(engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack) -> Iterator[Any]:
    """Start Steward with extra settings; stops it at the end of the test."""
    with engine.begin() as conn:
        conn.execute(tables.pending_replies.delete())
    servers = []

    def run(**settings: Any) -> SlackClient:
        server, client = serve(
            slack_services(engine, database_url, fake_slack, **settings), fake_slack
        )
        servers.append(server.__enter__())
        return client

    yield run
    for server in servers:
        server.__exit__(None, None, None)


def answer(slack: SlackClient, name: str, *, text: str = "zorblax corp", **kw: Any) -> str:
    assert slack.command("/health", text, name, **kw).status_code == 200
    return texts(slack.fake.wait_for_responses(name, 1)[0])


def test_no_account_data_in_a_slack_connect_channel(start: Any, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("CSHARED", name="acme-shared", ext_shared=True)
    shown = answer(start(), "shared", channel_id="CSHARED")
    assert REFUSED_SHARED in shown
    assert "health" not in shown.lower().replace("steward", "")


def test_an_admin_can_allow_a_shared_channel(start: Any, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("CSHARED", name="acme-shared", ext_shared=True)
    shown = answer(start(slack_shared_channels=["CSHARED"]), "allowed", channel_id="CSHARED")
    assert "Zorblax Corp: health" in shown


@pytest.mark.parametrize(
    "user",
    [
        {"team_id": "T0EXTERNAL"},  # a member of another organisation (Slack Connect)
        {"restricted": True},  # a multi-channel guest
        {"ultra_restricted": True},  # a single-channel guest
    ],
)
def test_no_account_data_for_external_users_or_guests(
    start: Any, fake_slack: FakeSlack, user: dict[str, Any]
) -> None:
    fake_slack.add_user("UEXT", name="visitor", **user)
    shown = answer(start(), "ext", user_id="UEXT")
    assert "only shown to members of this workspace" in shown
    assert "Zorblax Corp: health" not in shown


def test_no_account_data_in_a_dm_with_an_external_user(start: Any, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("UEXT", name="visitor", team_id="T0EXTERNAL")
    fake_slack.add_channel("DEXT", im_user="UEXT")
    shown = answer(start(), "dm", channel_id="DEXT")
    assert REFUSED_SHARED in shown


def test_a_conversation_steward_cannot_see_answers_without_a_share_button(start: Any) -> None:
    shown = answer(start(), "unseen", channel_id="GUNKNOWN")
    assert "Zorblax Corp: health" in shown
    assert "Share to channel" not in shown
    assert "Sharing is off here" in shown


def test_the_channel_allow_list_applies_to_every_command(start: Any, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("CCS", name="cs-leads")
    fake_slack.add_channel("DBOT", im_user="U123")
    slack = start(slack_command_channels=["CCS"])
    assert "answers only in the channels an admin chose" in answer(slack, "no")
    assert "Zorblax Corp: health" in answer(slack, "yes", channel_id="CCS")
    assert "Zorblax Corp: health" in answer(slack, "dm", channel_id="DBOT")


def test_the_user_group_allow_list(start: Any, fake_slack: FakeSlack) -> None:
    fake_slack.add_usergroup("S0CSM", ["U123"])
    fake_slack.add_user("U999", name="outsider")
    slack = start(slack_user_groups=["S0CSM"])
    assert "Zorblax Corp: health" in answer(slack, "member")
    assert "members of the user groups" in answer(slack, "outsider", user_id="U999")


def owe_reply(engine: Engine, fake: FakeSlack, name: str, *, age: timedelta) -> str:
    """Leave a reply behind as a process that acknowledged it and then died would."""
    received = utc_now() - age
    payload = {
        "command": "/health",
        "text": "zorblax corp",
        "user_id": "U123",
        "user_name": "casey",
        "channel_id": "C123",
        "team_id": "T0STEWARD",
        "response_url": fake.response_url(name),
    }
    with write_transaction(engine) as conn:
        replies.add_reply(
            conn,
            reply_id=f"dead-{name}",
            platform="slack",
            kind="command",
            payload=payload,
            now=received,
            lease=timedelta(seconds=60),
        )
    return f"dead-{name}"


def status(engine: Engine, reply_id: str) -> str:
    with engine.connect() as conn:
        r = tables.pending_replies.c
        return str(conn.scalar(sa.select(r.status).where(r.id == reply_id)))


def test_a_restarted_server_answers_what_a_dead_one_acknowledged(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack, caplog: Any
) -> None:
    with engine.begin() as conn:
        conn.execute(tables.pending_replies.delete())
    owed = owe_reply(engine, fake_slack, "owed", age=timedelta(minutes=3))
    lost = owe_reply(engine, fake_slack, "lost", age=timedelta(minutes=45))
    old = owe_reply(engine, fake_slack, "old", age=timedelta(days=8))
    with write_transaction(engine) as conn:
        replies.finish_reply(conn, old, now=utc_now() - timedelta(days=8))
    services = slack_services(engine, database_url, fake_slack)
    server, _ = serve(services, fake_slack, lifespan="on")  # the sweep runs at start
    with caplog.at_level(logging.WARNING), server:
        answered = fake_slack.wait_for_responses("owed", 1)[0]
        assert "Zorblax Corp: health" in texts(answered)
    assert status(engine, owed) in ("done", "pending")  # the chart may still be on its way
    assert status(engine, lost) == "expired"
    assert status(engine, old) == "None"  # answered a week ago: pruned
    assert "lost" not in fake_slack.responses
    assert "was never answered: too late for Slack" in caplog.text


def test_logs_name_what_was_answered_without_tokens_urls_or_contents(
    start: Any, fake_slack: FakeSlack, caplog: Any
) -> None:
    slack = start()
    with caplog.at_level(logging.DEBUG):
        slack.command("/health", "zorblax corp", "logged")
        fake_slack.wait_for_responses("logged", 2)
        fake_slack.fail_next("logged-429", status=429, retry_after=0)
        slack.command("/steward", "risks", "logged-429")
        fake_slack.wait_for_responses("logged-429", 1)
    ours = [r for r in caplog.records if not r.name.startswith(("tests.", "httpx", "httpcore"))]
    logged = "\n".join(r.getMessage() for r in ours)
    assert "slack command /health by U123 in C123: done" in logged
    for secret in ("xoxb-test", "8f742231b10e8888abcd99yyyzzz85a5", "/response/logged"):
        assert secret not in logged
    assert "Zorblax Corp: health" not in logged  # no message bodies
