"""Security issue rows 3-6: on Slack, who is in a conversation decides what goes there.

Each attack is played over real HTTP: signed commands and clicks to Steward's web app, and
the worker's pushes to a fake Slack Web API on loopback that serves conversations.members,
users.info and auth.test as Slack does.

- Row 3: a channel that becomes Slack Connect after its first digest gets no more.
- Row 4: a channel or group DM with a guest (or a member of another team) gets neither
  Share nor subscriptions nor pushes; Slack errors fail closed.
- Row 5: a user of another team is external whatever team_id the payload carries:
  Steward's own team comes from auth.test.
- Row 6: a DM to a CSM/AE who is a guest, of another team or deactivated is not sent;
  `steward outbox` says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.adapters.slack.facts import SlackFacts, Unverified
from bot.adapters.slack.outbox import SlackOutbox
from bot.cli import app
from digests.alerts import Evaluation, PassReport, record, route
from storage import tables
from storage.db import write_transaction
from storage.subscriptions import list_subscriptions
from tests.support.fakes.slack import EXTERNAL_TEAM_ID, FakeSlack
from tests.support.push_world import Clock, jobs_of, outbox_rows, posts, push_services, subscribe
from tests.support.slack_world import (
    BOT_TOKEN,
    Book,
    SlackClient,
    buttons,
    seed_book,
    serve,
    slack_services,
    texts,
)

ANSWERED = "Zorblax Corp: health"
REFUSED_PLACE = "guests or members of other organisations"
REFUSED_ASKER = "only shown to members of this workspace"
MISSING_SCOPE = {"ok": False, "error": "missing_scope", "needed": "channels:read"}
OUTSIDERS: dict[
    str, dict[str, Any]
] = {  # users.info as Slack describes people who are not members of Steward's workspace
    "guest": {"restricted": True},
    "single-channel guest": {"ultra_restricted": True},
    "stranger": {"is_stranger": True},
    "another team": {"team_id": EXTERNAL_TEAM_ID},
}


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


@pytest.fixture(autouse=True)
def clean(engine: Engine, book: Book) -> None:
    """What one test leaves behind (answers, subscriptions, outbox) is gone before the next."""
    with engine.begin() as conn:
        for table in (
            tables.pending_replies,
            tables.outbox,
            tables.subscriptions,
            tables.alert_states,
            tables.message_actions,
            tables.job_runs,
        ):
            conn.execute(table.delete())


@pytest.fixture
def slack(engine: Engine, database_url: str, fake_slack: FakeSlack) -> Iterator[SlackClient]:
    server, client = serve(slack_services(engine, database_url, fake_slack), fake_slack)
    with server:
        yield client


def answer(slack: SlackClient, name: str, *, text: str = "zorblax corp", **kw: Any) -> str:
    assert slack.command("/health", text, name, **kw).status_code == 200
    return texts(slack.fake.wait_for_responses(name, 1)[0])


def add_outsider(fake: FakeSlack, user_id: str, kind: str, **extra: Any) -> None:
    fake.add_user(user_id, name=f"visitor-{user_id.lower()}", **OUTSIDERS[kind], **extra)


# Row 3: a channel that becomes Slack Connect after its first digest


def test_a_channel_that_becomes_slack_connect_after_its_first_digest_gets_no_more(
    engine: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C-DIGEST", name="cs-digest", members=["U123"])
    clock = Clock(datetime(2026, 11, 23, 8, 31, tzinfo=UTC))
    subscribe(engine, "C-DIGEST", "digest", clock.now, at_time="08:30", timezone="UTC")
    jobs = jobs_of(push_services(engine, database_url, fake_slack, clock))  # one worker
    jobs.run("digests")
    assert len(posts(fake_slack, "C-DIGEST")) == 1
    fake_slack.channels["C-DIGEST"]["is_ext_shared"] = True  # shared with a partner overnight
    clock.advance(days=1)
    jobs.run("digests")
    assert len(posts(fake_slack, "C-DIGEST")) == 1
    failed = [r for r in outbox_rows(engine) if r.status == "failed"]
    assert [r.period for r in failed] == ["2026-11-24"]
    assert (failed[0].error or "").startswith("external_channel")


def test_a_channel_that_gains_a_guest_gets_no_more_pushes(
    engine: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C-DIGEST", name="cs-digest", members=["U123"])
    add_outsider(fake_slack, "UGUEST", "guest")
    clock = Clock(datetime(2026, 11, 23, 8, 31, tzinfo=UTC))
    subscribe(engine, "C-DIGEST", "digest", clock.now, at_time="08:30", timezone="UTC")
    jobs = jobs_of(push_services(engine, database_url, fake_slack, clock))
    jobs.run("digests")
    fake_slack.add_member("C-DIGEST", "UGUEST")
    clock.advance(days=1)
    jobs.run("digests")
    assert len(posts(fake_slack, "C-DIGEST")) == 1
    [failed] = [r for r in outbox_rows(engine) if r.status == "failed"]
    assert "guests or members of another organisation" in (failed.error or "")


# Row 4: channels and group DMs with guests


@pytest.mark.parametrize("kind", sorted(OUTSIDERS))
@pytest.mark.parametrize("place", ["group_dm", "private", "channel"])
def test_no_account_data_or_share_where_a_guest_or_outsider_is_present(
    slack: SlackClient, fake_slack: FakeSlack, kind: str, place: str
) -> None:
    add_outsider(fake_slack, "UOUT", kind)
    if place == "group_dm":
        fake_slack.add_group_dm("GMIXED", ["U123", "UOUT"])
    else:
        fake_slack.add_channel("GMIXED", private=place == "private", members=["U123", "UOUT"])
    shown = answer(slack, "mixed", channel_id="GMIXED")
    assert REFUSED_PLACE in shown
    assert ANSWERED not in shown
    assert "Share to channel" not in shown


def test_a_share_click_in_a_group_dm_with_a_guest_is_refused(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    shown = answer(slack, "internal", channel_id="C123")  # a legitimate answer's Share button
    button = buttons(fake_slack.responses["internal"][0])["Share to channel"]
    add_outsider(fake_slack, "UGUEST", "guest")
    fake_slack.add_group_dm("GMIXED", ["U123", "UGUEST"])
    assert slack.click(button, "shared", channel_id="GMIXED").status_code == 200
    [reply] = fake_slack.wait_for_responses("shared", 1)
    assert reply.get("response_type") != "in_channel"
    assert ANSWERED not in texts(reply)
    assert ANSWERED in shown


def test_no_subscription_where_a_guest_is_present(
    slack: SlackClient, fake_slack: FakeSlack, engine: Engine
) -> None:
    add_outsider(fake_slack, "UGUEST", "guest")
    fake_slack.add_channel("C-MIXED", members=["U123", "UGUEST"])
    assert slack.command("/steward", "subscribe digest", "sub", channel_id="C-MIXED")
    shown = texts(fake_slack.wait_for_responses("sub", 1)[0])
    assert REFUSED_PLACE in shown
    with write_transaction(engine) as conn:
        assert list_subscriptions(conn) == []


def test_members_are_read_page_by_page(slack: SlackClient, fake_slack: FakeSlack) -> None:
    crowd = [f"U{n:04d}" for n in range(230)]
    for user in crowd:
        fake_slack.add_user(user)
    add_outsider(fake_slack, "UGUEST", "guest")
    fake_slack.add_channel("C-BIG", members=["U123", *crowd, "UGUEST"])  # the guest on page 3
    assert REFUSED_PLACE in answer(slack, "big", channel_id="C-BIG")
    assert len(fake_slack.calls_to("conversations.members")) == 2  # 200 a page


def test_bots_and_deactivated_members_do_not_count(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UOTHERBOT", name="pagerbot", is_bot=True, team_id=EXTERNAL_TEAM_ID)
    fake_slack.add_user("UGONE", name="former", deleted=True)
    fake_slack.add_channel("C-OK", members=["U123", "UOTHERBOT", "UGONE"])
    shown = answer(slack, "ok", channel_id="C-OK")
    assert ANSWERED in shown
    assert "Share to channel" in shown


@pytest.mark.parametrize("broken", ["conversations.members", "users.info"])
def test_when_slack_will_not_say_who_is_there_nothing_is_shared_or_subscribed(
    slack: SlackClient, fake_slack: FakeSlack, broken: str
) -> None:
    fake_slack.add_channel("C-FOG", members=["U123", "U456"])
    if broken == "users.info":
        assert "U456" not in fake_slack.users  # users.info answers user_not_found for them
    else:
        fake_slack.add_user("U456", name="dana")
        fake_slack.fail_next(broken, status=200, body=MISSING_SCOPE, times=10)
    shown = answer(slack, "fog", channel_id="C-FOG")
    assert "Share to channel" not in shown
    assert "cannot see who is in this conversation" in shown
    assert slack.command("/steward", "subscribe digest", "sub", channel_id="C-FOG")
    assert "cannot see who is in this conversation" in texts(
        fake_slack.wait_for_responses("sub", 1)[0]
    )


def test_a_push_fails_closed_when_slack_will_not_list_the_members(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel("C-FOG", members=["U123"])
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    subscribe(engine, "C-FOG", "alerts", now)
    alert(engine, now, ["C-FOG"])
    fake_slack.fail_next("conversations.members", status=200, body=MISSING_SCOPE, times=10)
    report = sender(engine, fake_slack).send_due(now)
    assert report.sent == 0
    assert posts(fake_slack) == []
    [row] = outbox_rows(engine)
    assert row.status == "failed"
    assert (row.error or "").startswith("missing_scope")


# Row 5: external users judged against Steward's own team (auth.test)


@pytest.mark.parametrize("payload_team", [EXTERNAL_TEAM_ID, ""])
def test_a_user_of_another_team_gets_nothing_whatever_team_the_payload_names(
    slack: SlackClient, fake_slack: FakeSlack, payload_team: str
) -> None:
    fake_slack.add_user("UFOREIGN", name="partner", team_id=EXTERNAL_TEAM_ID)
    shown = answer(slack, "foreign", user_id="UFOREIGN", team_id=payload_team)
    assert REFUSED_ASKER in shown
    assert ANSWERED not in shown


def test_a_user_slack_gives_no_team_for_is_not_trusted(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("UNOTEAM", name="mystery")["team_id"] = ""
    shown = answer(slack, "noteam", user_id="UNOTEAM", team_id="")
    assert REFUSED_ASKER in shown


def test_without_auth_test_steward_does_not_guess_its_own_team(fake_slack: FakeSlack) -> None:
    """Bolt asks auth.test before any request reaches Steward, so this is played against
    SlackFacts itself, still over HTTP to the fake."""
    fake_slack.fail_next("auth.test", status=200, body={"ok": False, "error": "invalid_auth"})
    facts = SlackFacts(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.base_url))
    with pytest.raises(Unverified):
        asyncio.run(facts.asker("U123", ()))
    assert fake_slack.calls_to("auth.test")[0].failed_with == 200
    audience = asyncio.run(facts.audience("C123"))
    assert audience.external is False  # asked again: a failure is not remembered


def test_steward_asks_auth_test_once_for_its_own_team(
    slack: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U456", name="dana")
    fake_slack.add_channel("C-OTHER", members=["U456"])
    assert ANSWERED in answer(slack, "one")
    asked = len(fake_slack.calls_to("auth.test"))  # Bolt's own check, and Steward's
    assert ANSWERED in answer(slack, "two", user_id="U456", channel_id="C-OTHER")
    assert len(fake_slack.calls_to("auth.test")) == asked


# Row 6: direct messages to a CSM or AE


def alert(engine: Engine, now: datetime, channels: list[str], *, csm: str = "") -> None:
    """A bill-shock alert opens for Acme and is routed: to ``channels`` or, with none
    subscribed, to its CSM by direct message."""
    evaluation = Evaluation(
        account_id="acme",
        name="Acme Corp",
        csm=csm or "casey@example.com",
        ae=None,
        segment="Enterprise",
        tier="strategic",
        flags={"bill_shock": "Month-end $9,000 against a usual $4,000."},
    )
    with write_transaction(engine) as conn:
        report = PassReport()
        notices = record(conn, [evaluation], now=now, baseline=False, report=report)
        subs = list_subscriptions(conn, kind="alerts")
        route(conn, notices, subs, platform="slack", now=now, report=report)


def sender(engine: Engine, fake: FakeSlack) -> SlackOutbox:
    return SlackOutbox.from_settings(engine, BOT_TOKEN, fake.base_url)


@pytest.mark.parametrize("kind", [*sorted(OUTSIDERS), "deactivated"])
def test_an_alert_for_a_csm_who_is_a_guest_or_outsider_is_not_sent(
    engine: Engine,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    kind: str,
) -> None:
    email = "visitor@partner.example"
    if kind == "deactivated":
        fake_slack.add_user("UOUT", name="former", email=email, deleted=True)
    else:
        add_outsider(fake_slack, "UOUT", kind, email=email)
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    alert(engine, now, [], csm=email)  # whoever can write /v1/accounts set csm to this
    report = sender(engine, fake_slack).send_due(now)
    assert (report.sent, report.failed) == (0, 1)
    assert posts(fake_slack) == []
    assert fake_slack.calls_to("conversations.open") == []
    [row] = outbox_rows(engine)
    assert (row.error or "").startswith("external_person")
    monkeypatch.setenv("DATABASE_URL", database_url)
    shown = CliRunner().invoke(app, ["outbox", "--status", "failed"])
    assert shown.exit_code == 0, shown.output
    assert "external_person" in shown.output


def test_an_alert_for_a_csm_by_user_id_is_checked_too(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    add_outsider(fake_slack, "UOUT", "another team")
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    alert(engine, now, [], csm="UOUT")
    assert sender(engine, fake_slack).send_due(now).failed == 1
    assert posts(fake_slack) == []


def test_an_alert_for_an_internal_csm_still_goes_to_their_dm(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    alert(engine, now, [])  # casey@example.com is U123, a full member
    assert sender(engine, fake_slack).send_due(now).sent == 1
    [message] = posts(fake_slack)
    assert message["channel"].startswith("D")


def test_a_csm_who_becomes_a_guest_gets_no_more_alerts(
    engine: Engine, fake_slack: FakeSlack
) -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    outbox_sender = sender(engine, fake_slack)  # one worker, for the whole test
    alert(engine, now, [])
    assert outbox_sender.send_due(now).sent == 1
    fake_slack.users["U123"]["is_restricted"] = True  # Casey left and was kept on as a guest
    with write_transaction(engine) as conn:
        conn.execute(tables.alert_states.delete())
    later = now + timedelta(days=2)
    alert(engine, later, [])
    assert outbox_sender.send_due(later).failed == 1
    assert len(posts(fake_slack)) == 1
