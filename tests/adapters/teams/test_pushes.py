"""Digests and alerts in Teams: proactive posts through the outbox, buttons, 429s, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.adapters.teams.connector import Connector
from bot.adapters.teams.outbox import TeamsOutbox
from bot.cli import app
from bot.worker import build_jobs
from digests.alerts import Evaluation, PassReport, record, route
from storage import alert_states
from storage import teams as references
from storage.db import read_connection, write_transaction
from storage.subscriptions import list_subscriptions, upsert_subscription
from tests.support.cli import environment, run_together
from tests.support.fakes.teams import FakeBotFramework
from tests.support.push_world import Clock, outbox_rows
from tests.support.slack_world import NOW, Book, seed_book
from tests.support.teams_world import (
    CASEY,
    CHANNEL,
    DANA,
    PERSONAL,
    buttons,
    card_text,
    member,
    serve_teams,
    teams_services,
    valid_card,
)

CHANNELS = [f"19:channel-{n:02d}@thread.tacv2" for n in range(12)]


@pytest.fixture
def fake_teams() -> Iterator[FakeBotFramework]:
    with FakeBotFramework() as fake:
        for conversation in [PERSONAL, CHANNEL, *CHANNELS]:
            member(fake, conversation, CASEY)
        yield fake


@pytest.fixture
def book(db: Engine) -> Book:
    return seed_book(db)


def remember(db: Engine, fake: FakeBotFramework, conversation: str, **fields: object) -> None:
    """Steward has heard from this conversation (an install or a message there)."""
    values: dict[str, object] = {
        "conversation_id": conversation,
        "service_url": fake.service_url,
        "kind": "channel",
        "bot_id": f"28:{fake.app_id}",
        "tenant_id": fake.tenant_id,
    }
    values.update(fields)
    with write_transaction(db) as conn:
        references.remember(conn, references.Conversation(**values), now=NOW)  # type: ignore[arg-type]


def subscribe(db: Engine, channel: str, kind: str, **fields: Any) -> None:
    with write_transaction(db) as conn:
        upsert_subscription(
            conn,
            platform="teams",
            channel=channel,
            kind=kind,
            created_by="aad-casey",
            now=NOW,
            **fields,
        )


def sender(db: Engine, fake: FakeBotFramework, database_url: str) -> TeamsOutbox:
    services = teams_services(db, database_url, fake)
    return TeamsOutbox(db, Connector.from_settings(services.settings, db))


def test_a_subscribed_channel_gets_its_digest_once_at_local_time(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    remember(db, fake_teams, CHANNEL, name="cs-team")
    subscribe(db, CHANNEL, "digest", at_time="08:30", timezone="Europe/Paris")
    clock = Clock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))  # 08:00 in Paris
    services = teams_services(db, database_url, fake_teams)
    services.clock = clock
    jobs = build_jobs(services)
    assert set(jobs.senders) == {"teams"}
    jobs.run("digests")
    assert fake_teams.activities(CHANNEL) == []  # not yet
    clock.advance(minutes=31)
    jobs.run("digests")
    jobs.run("digests")  # a second pass in the same period adds nothing
    [posted] = fake_teams.activities(CHANNEL, kind="send")
    card = valid_card(posted.card or {})
    assert "Morning digest" in card_text(card)
    [row] = outbox_rows(db)
    assert (row.status, row.message_id) == ("sent", posted.activity_id)


def alert_evaluation(db: Engine, account_id: str) -> Evaluation:
    with read_connection(db) as conn:
        known = alert_states.states_of(conn, [account_id]).get(account_id, {})
    flags = {k: s.evidence for k, s in known.items() if s.status == "open"}
    flags["bill_shock"] = "Month-end $9,000 against a usual $4,000."
    return Evaluation(account_id, "Zorblax Corp", CASEY["email"], None, None, "scaled", flags)


def raise_alert(db: Engine, account_id: str, *, direct: bool = False) -> None:
    """A bill-shock alert opens for the account and is routed for Teams: to the subscribed
    channels, or with ``direct`` (no channel subscribed) to the owner's personal chat."""
    with write_transaction(db) as conn:
        report = PassReport()
        evaluation = alert_evaluation(db, account_id)
        notices = record(conn, [evaluation], now=NOW, baseline=False, report=report)
        subs = [] if direct else list_subscriptions(conn)
        route(conn, notices, subs, platform="teams", now=NOW, report=report, direct=direct)


def test_an_alert_in_a_channel_has_buttons_that_update_the_card_for_everyone(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    remember(db, fake_teams, CHANNEL, name="cs-team")
    subscribe(db, CHANNEL, "alerts")
    acme = book.ids["acme"]
    raise_alert(db, acme)
    assert sender(db, fake_teams, database_url).send_due(NOW).sent == 1
    [posted] = fake_teams.activities(CHANNEL, kind="send")
    card = valid_card(posted.card or {})
    assert "Zorblax Corp" in card_text(card)
    ack = buttons(card)["Acknowledge"]
    thread = f"{CHANNEL};messageid={posted.activity_id}"  # how Teams names a post's thread
    with serve_teams(db, database_url, fake_teams) as (_, client):
        pressed = client.click(
            ack, reply_to=posted.activity_id or "", conversation=thread, conversation_type="channel"
        )
        response = client.post(pressed)
        assert response.status_code == 200
        updated = valid_card(response.json()["value"])
        assert "Acknowledged by Casey Jones" in card_text(updated)
        assert "Acknowledge" not in buttons(updated)
        assign = client.click(
            buttons(updated)["Assign to me"],
            reply_to=posted.activity_id or "",
            conversation=thread,
            conversation_type="channel",
        )
        taken = valid_card(client.post(assign).json()["value"])
    assert "Acknowledged by Casey Jones" in card_text(taken)
    assert "Assigned to Casey Jones" in card_text(taken)
    with read_connection(db) as conn:
        states = alert_states.states_of(conn, [acme])[acme]
    assert states["bill_shock"].acknowledged_by == "Casey Jones"


def test_an_alert_for_a_csm_goes_to_their_personal_chat_with_steward(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    with serve_teams(db, database_url, fake_teams) as (_, client):
        client.say("help")  # Casey has opened Steward in Teams once
    acme = book.ids["acme"]
    raise_alert(db, acme, direct=True)
    sender(db, fake_teams, database_url).send_due(NOW)
    [posted] = fake_teams.activities(PERSONAL, kind="send")
    assert "Zorblax Corp" in card_text(valid_card(posted.card or {}))


def test_someone_who_never_opened_steward_is_reported_not_guessed(
    book: Book,
    db: Engine,
    database_url: str,
    fake_teams: FakeBotFramework,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acme = book.ids["acme"]
    raise_alert(db, acme, direct=True)
    result = sender(db, fake_teams, database_url).send_due(NOW)
    assert result.failed == 1
    [row] = outbox_rows(db)
    assert row.status == "failed"
    assert "no personal chat with Steward" in (row.error or "")
    assert fake_teams.activities() == []
    monkeypatch.setenv("DATABASE_URL", database_url)
    shown = CliRunner().invoke(app, ["outbox"])
    assert shown.exit_code == 0, shown.output
    assert (
        "Must open Steward in Teams once to get their alerts (Apps > Steward > Open): "
        f"{CASEY['email']}" in shown.output
    )
    # and what exactly once means on Teams, which has no history to search
    assert "may post that one message once more" in shown.output


def test_a_teams_digest_names_the_csms_who_must_open_steward_once(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    remember(db, fake_teams, CHANNEL, name="cs-team")
    remember(db, fake_teams, PERSONAL, kind="personal", user_email=CASEY["email"])
    subscribe(db, CHANNEL, "digest", at_time="08:30", timezone="UTC")
    services = teams_services(db, database_url, fake_teams)
    services.clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    build_jobs(services).run("digests")
    [posted] = fake_teams.activities(CHANNEL, kind="send")
    text = card_text(valid_card(posted.card or {}))
    assert "Not reachable in Teams yet" in text
    assert "someone@example.com must open Steward in Teams once" in text
    assert CASEY["email"] not in text.split("Not reachable in Teams yet")[1]  # Casey has a chat


def test_a_channel_that_gained_a_guest_gets_no_account_data(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    remember(db, fake_teams, CHANNEL)
    subscribe(db, CHANNEL, "digest", at_time="08:30", timezone="UTC")
    member(fake_teams, CHANNEL, DANA, user_role="guest")
    services = teams_services(db, database_url, fake_teams)
    services.clock = Clock(datetime(2026, 11, 23, 8, 31, tzinfo=UTC))
    build_jobs(services).run("digests")
    assert fake_teams.activities(CHANNEL) == []
    [row] = outbox_rows(db)
    assert row.status == "failed"
    assert "TEAMS_SHARED_CONVERSATIONS" in (row.error or "")


def test_an_alert_mentions_its_owner_who_is_in_the_conversation(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    remember(db, fake_teams, CHANNEL, name="cs-team")
    subscribe(db, CHANNEL, "alerts")
    raise_alert(db, book.ids["acme"])
    assert sender(db, fake_teams, database_url).send_due(NOW).sent == 1
    [posted] = fake_teams.activities(CHANNEL, kind="send")
    card = valid_card(posted.card or {})
    footer = [b["text"] for b in card["body"] if b.get("isSubtle")]
    assert any(f"<at>{CASEY['name']}</at>" in text for text in footer)  # the CSM, by roster
    assert card["msteams"]["entities"] == [
        {
            "type": "mention",
            "text": f"<at>{CASEY['name']}</at>",
            "mentioned": {"id": CASEY["id"], "name": CASEY["name"]},
        }
    ]


def test_throttled_posts_wait_for_retry_after_and_go_out_once(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    remember(db, fake_teams, CHANNEL)
    subscribe(db, CHANNEL, "alerts")
    acme = book.ids["acme"]
    raise_alert(db, acme)
    fake_teams.fail_next("send", status=429, retry_after=120)
    teams = sender(db, fake_teams, database_url)
    first = teams.send_due(NOW)
    assert (first.sent, first.retried) == (0, 1)
    assert teams.send_due(NOW + timedelta(seconds=60)).sent == 0  # Retry-After not over
    [waiting] = outbox_rows(db)  # Retry-After, spread by at most 20%
    assert NOW + timedelta(seconds=120) <= waiting.not_before <= NOW + timedelta(seconds=144)
    assert teams.send_due(waiting.not_before).sent == 1
    assert len(fake_teams.attempts("send", CHANNEL)) == 2
    assert len(fake_teams.activities(CHANNEL)) == 1
    [row] = outbox_rows(db)
    assert row.status == "sent"


def test_a_teams_outage_is_waited_out_not_counted_as_failures(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    remember(db, fake_teams, CHANNEL)
    subscribe(db, CHANNEL, "alerts")
    raise_alert(db, book.ids["acme"])
    fake_teams.fail_next("send", status=502, times=8)  # more tries than MAX_ATTEMPTS
    teams = sender(db, fake_teams, database_url)
    now = NOW
    for _ in range(9):
        teams.send_due(now)
        [row] = outbox_rows(db)
        if row.status != "pending":
            break
        assert row.not_before - now <= timedelta(minutes=6)  # capped, with jitter
        now = row.not_before
    assert row.status == "sent"
    assert len(fake_teams.activities(CHANNEL)) == 1


def test_two_workers_post_each_teams_digest_exactly_once(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework, tmp_path: Path
) -> None:
    for channel in CHANNELS:
        remember(db, fake_teams, channel)
        subscribe(db, channel, "digest", at_time="08:30", timezone="Europe/Paris")
    env = environment(
        DATABASE_URL=database_url,
        MICROSOFT_APP_ID=fake_teams.app_id,
        MICROSOFT_APP_PASSWORD=fake_teams.app_password,
        MICROSOFT_APP_TENANT_ID=fake_teams.tenant_id,
        MICROSOFT_TOKEN_URL=fake_teams.token_url,
        TEAMS_OPENID_METADATA_URL=fake_teams.openid_metadata_url,
        TEAMS_SERVICE_HOSTS=urlsplit(fake_teams.url).netloc,
    )
    at = "2026-11-23T07:31:00+00:00"  # 08:31 in Paris
    outputs = run_together(["run-job", "digests", "--at", at], env=env, cwd=tmp_path)
    per_channel = {c: len(fake_teams.activities(c, kind="send")) for c in CHANNELS}
    assert per_channel == dict.fromkeys(CHANNELS, 1)
    rows = outbox_rows(db)
    assert len(rows) == len(CHANNELS)
    assert {r.status for r in rows} == {"sent"}
    assert fake_teams.errors == []
    for output, errors in outputs:
        assert fake_teams.app_password not in output + errors


def test_a_follow_typed_in_teams_brings_the_accounts_alerts_to_the_personal_chat(
    book: Book, db: Engine, database_url: str, fake_teams: FakeBotFramework
) -> None:
    globex = book.ids["globex"]  # its CSM is someone else: only a follow brings it to Casey
    with serve_teams(db, database_url, fake_teams) as (_, client):
        assert client.say("follow quibble").status_code in (200, 201)
        [answer] = [a for a in fake_teams.activities(PERSONAL) if a.card]
        assert "Following Quibble Inc" in card_text(answer.card or {})
    raise_alert(db, globex)  # routed to the subscriptions: Casey's follows among them
    assert sender(db, fake_teams, database_url).send_due(NOW).sent == 1
    [posted] = fake_teams.activities(PERSONAL, kind="send")
    assert "Bill-shock risk" in card_text(valid_card(posted.card or {}))
    [row] = outbox_rows(db)
    assert (row.channel, row.account_id) == ("user:aad-casey", globex)
