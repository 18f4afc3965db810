"""The outbox: each message posted once, through crashes, rate limits and failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.adapters.outbox import LEASE
from bot.adapters.slack.outbox import EVENT_TYPE, SlackOutbox
from bot.cli import app
from core.messages import Button, Card, Section, card_to_dict
from storage import outbox
from storage.db import write_transaction
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import outbox_rows, posts
from tests.support.slack_world import BOT_TOKEN

NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
CARD = Card(
    title="Morning digest: all accounts",
    summary="Morning digest: 2 accounts need attention.",
    sections=(Section(title="Needs attention (2)", items=("Acme (41): usage down 45%",)),),
    buttons=(Button("Details: Acme", "details", '{"c":"health","a":"acme","p":null}'),),
)


class Killed(BaseException):
    """The process dies here (not an Exception: nothing in the sender catches it)."""


@pytest.fixture(autouse=True)
def channels(fake_slack: FakeSlack) -> None:
    """The channels these tests post to, as Slack knows them (C123 is always there)."""
    for channel in ["C1", "C2"]:
        fake_slack.add_channel(channel)


def queue(engine: Engine, channel: str = "C1", period: str = "2026-11-23", **kw: Any) -> int:
    with write_transaction(engine) as conn:
        added = outbox.enqueue(
            conn,
            platform="slack",
            channel=channel,
            kind=kw.pop("kind", "digest"),
            account_id=kw.pop("account_id", None),
            period=period,
            card=card_to_dict(CARD),
            now=kw.pop("now", NOW),
            **kw,
        )
    assert added is not None
    return added


def sender(db: Engine, fake: FakeSlack) -> SlackOutbox:
    return SlackOutbox.from_settings(db, BOT_TOKEN, fake.base_url)


def test_a_message_is_posted_once_with_its_key_and_marked_with_slacks_ts(
    db: Engine, fake_slack: FakeSlack
) -> None:
    queue(db)
    report = sender(db, fake_slack).send_due(NOW)
    assert report.sent == 1
    [posted] = posts(fake_slack, "C1")
    assert posted["metadata"] == {
        "event_type": EVENT_TYPE,
        "event_payload": {"key": "slack:C1:digest:-:2026-11-23"},
    }
    assert "Needs attention" in str(posted["blocks"])
    [row] = outbox_rows(db)
    assert (row.status, row.message_channel, row.attempts) == ("sent", "C1", 1)
    assert (row.message_channel, row.message_id) in fake_slack.messages
    assert sender(db, fake_slack).send_due(NOW + timedelta(hours=1)).sent == 0
    assert len(posts(fake_slack)) == 1


def test_the_same_key_is_queued_once(db: Engine) -> None:
    queue(db)
    with write_transaction(db) as conn:
        again = outbox.enqueue(
            conn,
            platform="slack",
            channel="C1",
            kind="digest",
            account_id=None,
            period="2026-11-23",
            card={"title": "other"},
            now=NOW,
        )
    assert again is None
    assert len(outbox_rows(db)) == 1


def test_a_sender_killed_between_claim_and_send_loses_nothing_and_posts_once(
    db: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(db)
    dying = sender(db, fake_slack)

    def die(**_: Any) -> None:
        raise Killed

    monkeypatch.setattr(dying.client, "chat_postMessage", die)
    with pytest.raises(Killed):
        dying.send_due(NOW)
    assert posts(fake_slack) == []
    # While the dead sender's lease runs, no one else takes the message...
    assert sender(db, fake_slack).send_due(NOW + LEASE / 2).sent == 0
    # ...then the next sender does, looks for it on Slack, finds nothing and posts it.
    report = sender(db, fake_slack).send_due(NOW + LEASE + timedelta(seconds=1))
    assert (report.sent, report.found) == (1, 0)
    assert len(posts(fake_slack, "C1")) == 1
    assert fake_slack.calls_to("conversations.history")  # it looked before posting
    assert outbox_rows(db)[0].status == "sent"


def test_a_sender_killed_between_send_and_mark_is_not_posted_again(
    db: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue(db)
    queue(db, channel="C2")
    dying = sender(db, fake_slack)

    def die(*_: Any, **__: Any) -> None:
        raise Killed

    monkeypatch.setattr(dying, "mark_sent", die)
    with pytest.raises(Killed):
        dying.send_due(NOW)
    assert len(posts(fake_slack)) == 1  # posted, never marked
    later = NOW + LEASE + timedelta(seconds=1)
    report = sender(db, fake_slack).send_due(later)
    assert (report.found, report.sent) == (1, 1)  # C1 found by its key; C2 posted
    assert len(posts(fake_slack, "C1")) == 1
    assert len(posts(fake_slack, "C2")) == 1
    rows = {r.channel: r for r in outbox_rows(db)}
    assert rows["C1"].status == rows["C2"].status == "sent"
    assert (rows["C1"].message_channel, rows["C1"].message_id) in fake_slack.messages


def test_429_is_retried_after_retry_after(db: Engine, fake_slack: FakeSlack) -> None:
    queue(db)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    report = sender(db, fake_slack).send_due(NOW)
    assert report.sent == 1
    calls = fake_slack.calls_to("chat.postMessage")
    assert [c.failed_with for c in calls] == [429, None]
    assert calls[1].at - calls[0].at >= 1.0  # slack_sdk waited Retry-After before retrying


def test_a_rate_limit_that_persists_puts_the_message_back_until_retry_after(
    db: Engine, fake_slack: FakeSlack
) -> None:
    queue(db)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1, times=3)
    report = sender(db, fake_slack).send_due(NOW)
    assert (report.sent, report.retried) == (0, 1)
    [row] = outbox_rows(db)
    assert (row.status, row.error) == ("pending", "ratelimited")
    assert row.not_before == NOW + timedelta(seconds=1)
    assert sender(db, fake_slack).send_due(NOW + timedelta(seconds=2)).sent == 1
    assert len(posts(fake_slack)) == 1


def test_server_errors_back_off_and_then_fail_for_good_with_the_error(
    db: Engine, fake_slack: FakeSlack
) -> None:
    queue(db)
    fake_slack.fail_next("chat.postMessage", status=503, times=100)
    # without slack_sdk's own quick retries: this is about the outbox's retries over hours
    plain = SlackOutbox(db, WebClient(token=BOT_TOKEN, base_url=fake_slack.base_url))
    now = NOW
    for _ in range(10):
        plain.send_due(now)
        now += timedelta(hours=2)
    [row] = outbox_rows(db)
    assert row.status == "failed"
    assert row.attempts == 6
    assert row.error
    assert posts(fake_slack) == []


def test_a_channel_slack_does_not_know_fails_at_once_and_steward_outbox_shows_it(
    db: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    message_id = queue(db, channel="")  # Slack answers channel_not_found
    queue(db, channel="C1")
    report = sender(db, fake_slack).send_due(NOW)
    assert (report.sent, report.failed) == (1, 1)
    monkeypatch.setenv("DATABASE_URL", database_url)
    shown = CliRunner().invoke(app, ["outbox", "--status", "failed"])
    assert shown.exit_code == 0, shown.output
    assert "channel_not_found" in shown.output
    assert "1 failed" in shown.output
    assert "1 sent" in shown.output
    retried = CliRunner().invoke(app, ["outbox", "--retry", str(message_id)])
    assert "1 failed message(s) queued again" in retried.output
    assert outbox_rows(db)[-1].status == "pending"


def test_a_direct_message_goes_to_the_person_found_by_email(
    db: Engine, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U777", name="dana.ae", email="dana@example.com")
    queue(db, channel="user:dana@example.com", kind="alert", account_id="acme")
    queue(db, channel="user:Dana Nobody", kind="alert", account_id="acme", period="p2")
    report = sender(db, fake_slack).send_due(NOW)
    assert (report.sent, report.failed) == (1, 1)
    [posted] = posts(fake_slack)
    opened = fake_slack.calls_to("conversations.open")[0].params
    assert opened["users"] == "U777"
    assert posted["channel"].startswith("D")
    failed = next(r for r in outbox_rows(db) if r.status == "failed")
    assert "neither a Slack user id nor an email" in (failed.error or "")


def test_no_account_data_goes_to_a_slack_connect_channel_unless_it_is_allowed(
    db: Engine, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C-EXT", name="acme-shared", ext_shared=True)
    fake_slack.add_channel("C-OK", name="partner-allowed", ext_shared=True)
    queue(db, channel="C-EXT")
    queue(db, channel="C-OK")
    allowed = frozenset({"C-OK"})
    report = SlackOutbox.from_settings(db, BOT_TOKEN, fake_slack.base_url, allowed).send_due(NOW)
    assert (report.sent, report.failed) == (1, 1)
    assert [p["channel"] for p in posts(fake_slack)] == ["C-OK"]
    failed = next(r for r in outbox_rows(db) if r.status == "failed")
    assert failed.channel == "C-EXT"
    assert (failed.error or "").startswith("external_channel")
