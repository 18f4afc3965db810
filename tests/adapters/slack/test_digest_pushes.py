"""Digests at each channel's local time, and buttons on pushed messages, end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from digests.alerts import Evaluation, PassReport, record, route
from services.jobs import Jobs
from storage import alert_states, outbox
from storage.db import read_connection, write_transaction
from storage.subscriptions import list_subscriptions
from tests.support.fakes.openai import FakeOpenAI, text
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import Clock, jobs_of, outbox_rows, posts, push_services, subscribe
from tests.support.slack_world import NOW, Book, buttons, seed_book, serve, texts, valid_blocks


@pytest.fixture
def book(db: Engine) -> Book:
    return seed_book(db)


@pytest.fixture(autouse=True)
def channels(fake_slack: FakeSlack) -> None:
    """The channels these tests post to, as Slack knows them (C123 is always there)."""
    for channel in ["C-PARIS", "C-NY", "C-DIGEST", "C-LEADS", "C-TEAM"]:
        fake_slack.add_channel(channel)


def tick_until(jobs: Jobs, clock: Clock, end: datetime, minutes: int = 15) -> None:
    """Run the digest job on every tick of a time-travelled clock (nothing sleeps)."""
    while clock.now < end:
        jobs.run("digests")
        clock.advance(minutes=minutes)


def test_a_paris_channel_gets_its_digest_at_0830_local_across_the_dst_change(
    book: Book, db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    clock = Clock(datetime(2026, 3, 27, 0, 0, tzinfo=UTC))
    jobs = jobs_of(push_services(db, database_url, fake_slack, clock))
    subscribe(db, "C-PARIS", "digest", clock.now, at_time="08:30", timezone="Europe/Paris")
    subscribe(
        db,
        "C-NY",
        "digest",
        clock.now,
        at_time="08:30",
        timezone="America/New_York",
        weekdays_only=True,
    )
    tick_until(jobs, clock, datetime(2026, 3, 31, 0, 0, tzinfo=UTC))
    sent = {(r.channel, r.period): r.sent_at for r in outbox_rows(db)}
    assert {k: v for k, v in sent.items() if k[0] == "C-PARIS"} == {
        ("C-PARIS", "2026-03-27"): datetime(2026, 3, 27, 7, 30, tzinfo=UTC),  # CET, UTC+1
        ("C-PARIS", "2026-03-28"): datetime(2026, 3, 28, 7, 30, tzinfo=UTC),
        ("C-PARIS", "2026-03-29"): datetime(2026, 3, 29, 6, 30, tzinfo=UTC),  # CEST, UTC+2
        ("C-PARIS", "2026-03-30"): datetime(2026, 3, 30, 6, 30, tzinfo=UTC),
    }
    # New York (already on EDT since 8 March) on weekdays only: Friday and Monday
    assert {k: v for k, v in sent.items() if k[0] == "C-NY"} == {
        ("C-NY", "2026-03-27"): datetime(2026, 3, 27, 12, 30, tzinfo=UTC),
        ("C-NY", "2026-03-30"): datetime(2026, 3, 30, 12, 30, tzinfo=UTC),
    }
    assert len(posts(fake_slack, "C-PARIS")) == 4
    message = posts(fake_slack, "C-PARIS")[0]
    valid_blocks(message)
    text = texts(message)
    assert "Morning digest: all accounts" in text
    assert "Needs attention" in text
    assert "/health" in text  # each line says how to get the details


def test_a_book_digest_holds_only_that_csms_accounts(
    book: Book, db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    jobs = jobs_of(push_services(db, database_url, fake_slack, clock))
    subscribe(
        db,
        "C123",
        "digest",
        clock.now,
        scope="book",
        scope_value="U123",
        owner_handles=("U123", "casey@example.com", "Casey"),
        timezone="UTC",
    )
    jobs.run("digests")
    [message] = posts(fake_slack, "C123")
    text = texts(message)
    assert "the book of Casey" in text
    assert "Quibble Inc" not in text  # someone else's account
    assert "Accounts" in text


def test_buttons_on_a_pushed_alert_are_stored_and_update_the_message(
    book: Book, db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    clock = Clock(NOW)
    services = push_services(db, database_url, fake_slack, clock)
    jobs = jobs_of(services)
    subscribe(db, "C123", "alerts", NOW)
    acme = book.ids["acme"]
    jobs.run("alerts")  # baseline
    with read_connection(db) as conn:
        known = alert_states.states_of(conn, [acme]).get(acme, {})
    flags = {k: s.evidence for k, s in known.items() if s.status == "open"}
    flags["bill_shock"] = "Month-end $9,000 against a usual $4,000."
    evaluation = Evaluation(acme, "Zorblax Corp", "casey@example.com", None, None, "scaled", flags)
    with write_transaction(db) as conn:
        report = PassReport()
        notices = record(conn, [evaluation], now=clock.now, baseline=False, report=report)
        route(
            conn, notices, list_subscriptions(conn), platform="slack", now=clock.now, report=report
        )
    jobs.run("send")
    [posted] = posts(fake_slack, "C123")
    [row] = outbox_rows(db)
    server, client = serve(services, fake_slack)
    with server:
        ack = buttons(_message(fake_slack, row))["Acknowledge"]
        response = client.click(ack, "ack", channel_id="C123", message_ts=row.message_id)
        assert response.status_code == 200
        [updated] = fake_slack.wait_for_responses("ack", 1)
        assert updated["replace_original"] is True
        assert updated["response_type"] == "in_channel"
        assert "Acknowledged by Casey" in texts(updated)
        assert "Acknowledge" not in buttons(updated)  # done: the button goes
        take = buttons(updated)["Assign to me"]
        client.click(take, "take", channel_id="C123", message_ts=row.message_id)
        [taken] = fake_slack.wait_for_responses("take", 1)
        assert "Acknowledged by Casey" in texts(taken)
        assert "Assigned to Casey" in texts(taken)
        snooze = buttons(taken)["Snooze 1 day"]
        client.click(snooze, "snooze", channel_id="C123", message_ts=row.message_id)
        [snoozed] = fake_slack.wait_for_responses("snooze", 1)
        assert "Snoozed for 1 day by Casey" in texts(snoozed)
    with read_connection(db) as conn:
        state = alert_states.states_of(conn, [acme])[acme]["bill_shock"]
        clicks = outbox.clicks(conn, row.id)
        snoozed_until = alert_states.snoozed(conn, [acme], now=clock.now)
    assert (state.acknowledged_by, state.assigned_to) == ("Casey", "Casey")
    assert [(c.action, c.by) for c in clicks] == [
        ("ack", "U123"),
        ("assign", "U123"),
        ("snooze", "U123"),
    ]
    assert snoozed_until[acme] == clock.now + timedelta(days=1)
    # later digests say who took it
    subscribe(db, "C-DIGEST", "digest", clock.now, timezone="UTC", at_time="00:00")
    jobs.run("digests")
    digest = texts(posts(fake_slack, "C-DIGEST")[0])
    assert "Zorblax Corp" in digest
    until = f"{clock.now + timedelta(days=1):%Y-%m-%d}"
    assert f"[taken by Casey; alerts snoozed until {until}]" in digest
    assert posted["channel"] == "C123"


def _message(fake: FakeSlack, row: outbox.Message) -> dict[str, Any]:
    stored = fake.messages[(row.message_channel or "", row.message_id or "")]
    return {"text": stored["text"], "blocks": stored["blocks"]}


def test_details_on_a_digest_answers_privately(
    book: Book, db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    services = push_services(db, database_url, fake_slack, clock)
    subscribe(db, "C123", "digest", clock.now, timezone="UTC")
    jobs_of(services).run("digests")
    [row] = outbox_rows(db)
    lines = [b for b in _message(fake_slack, row)["blocks"] if "accessory" in b]
    assert lines, "each account line of a digest has its own button"
    line = lines[0]
    button = line["accessory"]
    name = line["text"]["text"].removeprefix("• ").split(" (")[0]
    server, client = serve(services, fake_slack)
    with server:
        client.click(button, "details", channel_id="C123", message_ts=row.message_id)
        [answer] = fake_slack.wait_for_responses("details", 1)
    assert answer["response_type"] == "ephemeral"
    assert name in texts(answer)
    assert json.loads(button["value"])["a"]


def test_a_manager_subscription_gets_the_portfolio_kpis_once_a_day(
    book: Book, db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    clock = Clock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    jobs = jobs_of(push_services(db, database_url, fake_slack, clock))
    subscribe(db, "C-LEADS", "manager", clock.now, at_time="08:00", timezone="Europe/London")
    subscribe(db, "C-TEAM", "digest", clock.now, at_time="08:00", timezone="Europe/London")
    assert jobs.run("manager").startswith("0 digests queued")  # 07:00 in London: not yet
    clock.advance(hours=1)
    jobs.run("manager")
    jobs.run("manager")
    [message] = posts(fake_slack, "C-LEADS")
    assert posts(fake_slack, "C-TEAM") == []  # the manager job posts manager digests only
    valid_blocks(message)
    text = texts(message)
    assert "Manager digest: all accounts" in text
    assert "Net revenue retention" in text
    assert "Accounts by tier" in text
    assert "Needs attention" in text


def test_with_an_llm_the_digest_opens_with_a_two_sentence_summary(
    book: Book, db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    with FakeOpenAI() as model:
        services = push_services(
            db,
            database_url,
            fake_slack,
            clock,
            openai_api_key="sk-test-0123456789abcdef",
            openai_base_url=model.base_url,
            llm_digest_summary=True,
        )
        model.script(text("Several accounts need attention today. Most of the book is healthy."))
        subscribe(db, "C-DIGEST", "digest", clock.now, timezone="UTC")
        jobs_of(services).run("digests")
        [request] = model.wait_for_requests(1)
    [message] = posts(fake_slack, "C-DIGEST")
    blocks = message["blocks"]
    assert blocks[1]["text"]["text"].startswith("Several accounts need attention today.")
    assert "Needs attention" in texts(message)
    assert "Zorblax Corp" in json.dumps(request.user_data())  # written from the digest itself
