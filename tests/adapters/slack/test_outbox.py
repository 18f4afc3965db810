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
    """The channels these tests post to, as Slack knows them (C123 is always there), and
    Slack's clock at the tests' NOW (its messages' ts)."""
    for channel in ["C1", "C2"]:
        fake_slack.add_channel(channel)
    fake_slack.clock = NOW.timestamp()


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


def test_a_post_lost_before_marking_is_found_however_busy_the_channel_since(
    db: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reclaim used to read only the newest 200 messages: an alert pass puts ~290
    # into one channel in seconds, so a kill between post and mark posted twice.
    queue(db)
    dying = sender(db, fake_slack)

    def die(*_: Any, **__: Any) -> None:
        raise Killed

    monkeypatch.setattr(dying, "mark_sent", die)
    with pytest.raises(Killed):
        dying.send_due(NOW)
    others = WebClient(token=BOT_TOKEN, base_url=fake_slack.base_url)
    for i in range(450):  # the channel gets busy before the lease runs out
        others.chat_postMessage(channel="C1", text=f"alert {i}")
    report = sender(db, fake_slack).send_due(NOW + LEASE + timedelta(seconds=1))
    assert (report.found, report.sent) == (1, 0)
    mine = [ts for (c, ts), m in fake_slack.messages.items() if c == "C1" and m.get("metadata")]
    assert len(mine) == 1  # posted once
    [row] = outbox_rows(db)
    assert (row.status, row.message_id) == ("sent", mine[0])
    # it read back only as far as the message's own time, page by page
    searches = fake_slack.calls_to("conversations.history")
    assert len(searches) >= 3
    assert all(float(c.params["oldest"]) <= NOW.timestamp() for c in searches)


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
    assert row.status == "pending"
    assert (row.error or "").startswith("rate limited (ratelimited); next try")
    # Retry-After honoured, spread by at most 20% so that senders do not retry in step
    assert NOW + timedelta(seconds=1) <= row.not_before <= NOW + timedelta(seconds=1.2)
    assert sender(db, fake_slack).send_due(NOW + timedelta(seconds=2)).sent == 1
    assert len(posts(fake_slack)) == 1


def _plain(db: Engine, fake: FakeSlack) -> SlackOutbox:
    """A sender without slack_sdk's own quick retries: the outbox's retries over time."""
    return SlackOutbox(db, WebClient(token=BOT_TOKEN, base_url=fake.base_url))


def _drain_until_settled(
    sender: SlackOutbox, db: Engine, start: datetime, until: datetime
) -> list[timedelta]:
    """Send at each moment the message is due again; the waits the outbox chose."""
    waits = []
    now = start
    while now < until:
        sender.send_due(now)
        [row] = outbox_rows(db)
        if row.status != "pending":
            break
        waits.append(row.not_before - now)
        now = row.not_before
    return waits


def test_rate_limits_for_minutes_are_not_failures_the_digest_goes_out_after(
    db: Engine, fake_slack: FakeSlack
) -> None:
    # Two minutes of 429s used to fail a digest for good after six tries.
    queue(db)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=10, times=12)
    waits = _drain_until_settled(_plain(db, fake_slack), db, NOW, NOW + timedelta(hours=1))
    [row] = outbox_rows(db)
    assert row.status == "sent"
    assert len(waits) == 12  # every 429 waited for Retry-After, none counted as a failure
    assert all(timedelta(seconds=10) <= w <= timedelta(seconds=12) for w in waits)
    assert len(posts(fake_slack)) == 1


def test_after_429_429_500_the_message_goes_out_soon_after_slack_recovers(
    db: Engine, fake_slack: FakeSlack
) -> None:
    # Backoff used to follow the attempt count: 429, 429, 500 meant a 15-minute wait.
    queue(db)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=15, times=2)
    fake_slack.fail_next("chat.postMessage", status=500, times=1)
    waits = _drain_until_settled(_plain(db, fake_slack), db, NOW, NOW + timedelta(hours=1))
    [row] = outbox_rows(db)
    assert row.status == "sent"
    assert len(waits) == 3
    assert waits[2] <= timedelta(seconds=24)  # seconds, not the 15 minutes of old
    assert row.sent_at is not None
    assert row.sent_at - NOW < timedelta(minutes=1)


def test_server_errors_back_off_capped_then_the_message_goes_stale_at_its_deadline(
    db: Engine, fake_slack: FakeSlack
) -> None:
    queue(db, kind="alert", account_id="acme")  # an alert: stale six hours after it was due
    fake_slack.fail_next("chat.postMessage", status=503, times=10_000)
    waits = _drain_until_settled(_plain(db, fake_slack), db, NOW, NOW + timedelta(days=1))
    [row] = outbox_rows(db)
    assert row.status == "failed"
    assert (row.error or "").startswith("stale: not sent by 2026-11-23 14:30 UTC")
    assert "503" in (row.error or "")
    assert waits[0] <= timedelta(seconds=6)  # doubling from 5 s...
    assert max(waits) <= timedelta(minutes=6)  # ...capped at 5 minutes (+20% jitter)
    assert waits[5] > waits[4] > waits[3]
    assert len(waits) > 60  # tried all the while, never given up early
    assert posts(fake_slack) == []


def test_slack_unreachable_does_not_stop_the_send_pass(db: Engine, fake_slack: FakeSlack) -> None:
    import socket

    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    queue(db, channel="C1")
    queue(db, channel="C2")
    gone = SlackOutbox(db, WebClient(token=BOT_TOKEN, base_url=f"http://127.0.0.1:{port}/api/"))
    report = gone.send_due(NOW)
    assert (report.sent, report.retried, report.failed) == (0, 2, 0)
    rows = outbox_rows(db)
    assert {r.status for r in rows} == {"pending"}
    assert all("platform unavailable (connection error" in (r.error or "") for r in rows)
    assert _plain(db, fake_slack).send_due(NOW + timedelta(seconds=10)).sent == 2


def test_steward_outbox_says_why_a_message_waits(
    db: Engine, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    queue(db)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=30, times=1)
    _plain(db, fake_slack).send_due(NOW)
    monkeypatch.setenv("DATABASE_URL", database_url)
    shown = CliRunner().invoke(app, ["outbox"])
    assert shown.exit_code == 0, shown.output
    assert "rate limited (ratelimited); next try 08:30:" in shown.output


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
