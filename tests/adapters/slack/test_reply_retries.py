"""An answer Slack could not take (429, 5xx, no connection) is posted again while its
response_url lives, never dropped after a few seconds, and given up when it expires."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.adapters.slack.app import SlackAdapter, command_payload
from services.container import utc_now
from storage import tables
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import Clock, push_services
from tests.support.slack_signing import slash_command_body
from tests.support.slack_world import Book, seed_book, texts


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


def _row(engine: Engine, reply_id: str) -> tuple[str, str | None, datetime]:
    """The reply's status, error and lease."""
    r = tables.pending_replies.c
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(r.status, r.error, r.lease_until).where(r.id == reply_id)
        ).one()
    return str(row.status), row.error, row.lease_until


def _ask(adapter: SlackAdapter, fake: FakeSlack, name: str) -> str:
    body = slash_command_body("/steward", "risks", response_url=fake.response_url(name))
    form = dict(parse_qsl(body))  # the form Slack posts
    reply = asyncio.run(adapter.receive("command", command_payload(form)))
    asyncio.run(adapter.answer(reply))
    return reply.id


def test_an_answer_slack_could_not_take_is_posted_once_it_can(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack
) -> None:
    clock = Clock(utc_now())
    adapter = SlackAdapter(push_services(engine, database_url, fake_slack, clock))
    fake_slack.fail_next("flaky", status=503, times=2)  # more than the one quick retry
    reply_id = _ask(adapter, fake_slack, "flaky")
    status, error, _ = _row(engine, reply_id)
    assert status == "pending"  # acknowledged, not answered: still owed
    assert error == "response_url answered 503"
    assert "flaky" not in fake_slack.responses
    clock.advance(seconds=10)
    asyncio.run(adapter.recover_once())
    [answer] = fake_slack.wait_for_responses("flaky", 1)
    assert "Risks" in texts(answer) or "risk" in texts(answer).lower()
    assert _row(engine, reply_id)[0] == "done"
    clock.advance(minutes=5)
    asyncio.run(adapter.recover_once())
    assert len(fake_slack.responses["flaky"]) == 1  # once


def test_an_answer_is_tried_until_its_response_url_expires_then_given_up(
    engine: Engine, database_url: str, book: Book, fake_slack: FakeSlack
) -> None:
    clock = Clock(utc_now())
    adapter = SlackAdapter(push_services(engine, database_url, fake_slack, clock))
    fake_slack.fail_next("down", status=500, times=10_000)
    started = clock.now
    reply_id = _ask(adapter, fake_slack, "down")
    tries = 1
    while _row(engine, reply_id)[0] == "pending":
        lease_until = _row(engine, reply_id)[2]
        clock.now = max(clock.now, lease_until) + timedelta(seconds=1)
        asyncio.run(adapter.recover_once())
        tries += 1
        assert tries < 100
    status, error, _ = _row(engine, reply_id)
    assert status == "failed"
    assert "response_url expired" in (error or "")
    assert clock.now - started >= timedelta(minutes=25)  # kept at it for the URL's lifetime
    assert tries > 8
    assert "down" not in fake_slack.responses
