"""When the database is down, Slack still gets its acknowledgement in time, with a one-line
"catching up" instead of an error page (Slack shows a generic failure for a 500)."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy.engine import Engine

from storage.db import make_engine
from tests.support.fakes.slack import FakeSlack
from tests.support.slack_world import Book, seed_book, serve, slack_services

CATCHING_UP = "Steward is catching up: try again in a minute."


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


def _unreachable_database() -> Engine:
    """A PostgreSQL URL on a loopback port nobody listens on: a database that is down."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    return make_engine(f"postgresql://postgres@127.0.0.1:{port}/steward")


def test_a_command_while_the_database_is_down_is_acknowledged_with_catching_up(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack
) -> None:
    services = slack_services(engine, database_url, fake_slack)
    services.engine = _unreachable_database()
    server, slack = serve(services, fake_slack)
    with server:
        answer = slack.command("/health", "zorblax corp", "down")
    assert answer.status_code == 200  # used to be a 500: Slack's "failed with the error"
    assert answer.text == CATCHING_UP  # Slack shows a plain-text acknowledgement to the asker


def test_a_click_while_the_database_is_down_is_acknowledged_and_told(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack
) -> None:
    services = slack_services(engine, database_url, fake_slack)
    services.engine = _unreachable_database()
    server, slack = serve(services, fake_slack)
    button = {"action_id": "steward:details", "value": '{"c":"health","a":"acme","p":null}'}
    with server:
        clicked = slack.click(button, "click-down")
        [told] = fake_slack.wait_for_responses("click-down", 1)
    assert clicked.status_code == 200
    assert told["text"] == CATCHING_UP
    assert told["response_type"] == "ephemeral"
