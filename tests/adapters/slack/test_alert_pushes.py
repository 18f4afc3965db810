"""Alerts out: grouping, routing, baseline, cooldown, resolved follow-ups, snooze, quiet hours."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.adapters.slack.outbox import SlackOutbox
from digests.alerts import Evaluation, Notice, PassReport, record, route
from storage import alert_states, replies
from storage.db import read_connection, write_transaction
from storage.subscriptions import Sub, list_subscriptions
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import outbox_rows, posts, subscribe
from tests.support.slack_world import BOT_TOKEN, buttons, texts

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 11:00 in Paris


@pytest.fixture(autouse=True)
def channels(fake_slack: FakeSlack) -> None:
    """The channels these tests post to, as Slack knows them (C123 is always there)."""
    for channel in ["C-ENT", "C-SMB"]:
        fake_slack.add_channel(channel)


def acme(**flags: str) -> Evaluation:
    return Evaluation(
        account_id="acme",
        name="Acme Corp",
        csm="casey@example.com",
        ae="dana@example.com",
        segment="Enterprise",
        tier="strategic",
        flags=flags,
    )


def apply(
    db: Engine, evaluations: list[Evaluation], now: datetime, *, baseline: bool = False
) -> tuple[list[Notice], PassReport]:
    report = PassReport(baseline=baseline)
    with write_transaction(db) as conn:
        notices = record(conn, evaluations, now=now, baseline=baseline, report=report)
        subs: list[Sub] = list_subscriptions(conn, kind="alerts")
        route(conn, notices, subs, platform="slack", now=now, report=report)
    return notices, report


def send(db: Engine, fake: FakeSlack, now: datetime) -> None:
    SlackOutbox.from_settings(db, BOT_TOKEN, fake.base_url).send_due(now)


def titles(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


def test_the_first_pass_is_a_silent_baseline(db: Engine, fake_slack: FakeSlack) -> None:
    subscribe(db, "C123", "alerts", NOW)
    notices, report = apply(db, [acme(usage_drop="Usage down 45%")], NOW, baseline=True)
    assert notices == []
    assert (report.opened, report.silent, report.announced) == (1, 1, 0)
    assert outbox_rows(db) == []
    # the condition is known: it does not fire later as if it were new
    notices, _ = apply(db, [acme(usage_drop="Usage down 45%")], NOW + timedelta(minutes=1))
    assert notices == []


def test_related_alerts_for_one_account_go_out_as_one_message_with_buttons(
    db: Engine, fake_slack: FakeSlack
) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    later = NOW + timedelta(minutes=1)
    apply(
        db,
        [
            acme(
                usage_drop="Usage down 45% on the month before.",
                bill_shock="Month-end $9,000 vs usual $4,000.",
            )
        ],
        later,
    )
    send(db, fake_slack, later)
    [message] = posts(fake_slack, "C123")
    assert titles(message) == "Acme Corp: Usage dropped, Bill-shock risk"
    text = str(message["blocks"])
    assert "Usage down 45%" in text
    assert "Month-end $9,000" in text
    labels = [
        e["text"]["text"] if e["type"] == "button" else "More"
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert labels == ["Acknowledge", "Details", "More"]  # at most three in a row
    assert list(buttons(message)) == [
        "Acknowledge",
        "Details",
        "Assign to me",
        "Snooze 1 day",
        "Snooze 7 days",
    ]
    # nothing new: nothing more
    apply(db, [acme(usage_drop="x", bill_shock="y")], later + timedelta(minutes=1))
    assert len(outbox_rows(db)) == 1


def test_an_alert_mentions_its_owners_slack_knows_and_names_the_others(
    db: Engine, fake_slack: FakeSlack
) -> None:
    # the CSM, casey@example.com, is U123 in Slack; the AE, dana@example.com, is not
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    apply(db, [acme(usage_drop="Usage down 45%.")], NOW + timedelta(minutes=1))
    send(db, fake_slack, NOW + timedelta(minutes=1))
    [message] = posts(fake_slack, "C123")
    [footer] = [b for b in message["blocks"] if b["type"] == "context"]
    text = footer["elements"][0]["text"]
    assert text.startswith("CSM <@U123> · AE dana@example.com")  # a real mention
    assert "casey@example.com" not in text


def test_a_cleared_condition_gets_a_resolved_follow_up(db: Engine, fake_slack: FakeSlack) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    apply(db, [acme(usage_drop="Usage down 45%.")], NOW + timedelta(minutes=1))
    cleared = NOW + timedelta(days=2)
    _notices, report = apply(db, [acme()], cleared)
    assert report.resolved == 1
    send(db, fake_slack, cleared)
    follow_up = posts(fake_slack, "C123")[-1]
    assert titles(follow_up) == "Acme Corp: Usage recovered"
    assert "Acknowledge" not in str(follow_up["blocks"])  # nothing left to act on


def test_a_months_bill_shock_expires_with_the_month_without_a_follow_up(
    db: Engine, fake_slack: FakeSlack
) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    month = f"bill_shock:{NOW:%Y-%m}"
    apply(db, [acme(**{month: "Spend heads for 3x a usual month."})], NOW + timedelta(minutes=1))
    next_month = (NOW.replace(day=1) + timedelta(days=32)).replace(day=2)
    _notices, report = apply(db, [replace(acme(), as_of=next_month.date())], next_month)
    assert report.resolved == 1  # the warning is closed...
    send(db, fake_slack, next_month)
    titles_sent = [titles(m) for m in posts(fake_slack, "C123")]
    assert titles_sent == ["Acme Corp: Bill-shock risk"]  # ...but nothing "cleared" is announced


def test_a_condition_back_within_the_cooldown_stays_quiet_then_speaks_after_it(
    db: Engine, fake_slack: FakeSlack
) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    t = NOW + timedelta(minutes=1)
    apply(db, [acme(usage_drop="down")], t)
    apply(db, [acme()], t + timedelta(hours=1))  # resolved: follow-up
    notices, report = apply(db, [acme(usage_drop="down again")], t + timedelta(hours=2))
    assert notices == []
    assert report.silent == 1
    apply(db, [acme()], t + timedelta(hours=3))  # resolves quietly: its opening was not announced
    notices, _ = apply(db, [acme(usage_drop="down a third time")], t + timedelta(hours=30))
    assert [c.title for n in notices for c in n.changes] == ["Usage dropped"]
    kinds = [(r.kind, r.card["title"]) for r in reversed(outbox_rows(db))]
    assert kinds == [
        ("alert", "Acme Corp: Usage dropped"),
        ("alert", "Acme Corp: Usage recovered"),
        ("alert", "Acme Corp: Usage dropped"),
    ]


def test_a_snoozed_account_does_not_fire(db: Engine, fake_slack: FakeSlack) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    with write_transaction(db) as conn:
        replies.add_snooze(
            conn,
            account_id="acme",
            until=NOW + timedelta(days=1),
            by="U123",
            platform="slack",
            now=NOW,
        )
    notices, report = apply(
        db, [acme(inactive="No meaningful usage for 9 days.")], NOW + timedelta(hours=1)
    )
    assert notices == []
    assert report.silent == 1
    # after the snooze, a new condition fires again
    notices, _ = apply(
        db, [acme(inactive="x", bill_shock="Month-end $9,000.")], NOW + timedelta(days=1, hours=1)
    )
    assert [c.kind for n in notices for c in n.changes] == ["bill_shock"]


def test_quiet_hours_hold_a_message_until_they_end(db: Engine, fake_slack: FakeSlack) -> None:
    subscribe(
        db, "C123", "alerts", NOW, timezone="Europe/Paris", quiet_start="20:00", quiet_end="08:00"
    )
    apply(db, [acme()], NOW, baseline=True)
    evening = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 22:00 in Paris
    apply(db, [acme(usage_drop="down")], evening)
    send(db, fake_slack, evening)
    send(db, fake_slack, datetime(2026, 11, 24, 6, 59, tzinfo=UTC))
    assert posts(fake_slack) == []
    morning = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    send(db, fake_slack, morning)
    assert len(posts(fake_slack, "C123")) == 1


def test_alerts_go_to_the_channels_that_cover_the_account_and_expansion_to_the_ae(
    db: Engine, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U777", name="dana", email="dana@example.com")
    subscribe(db, "C-ENT", "alerts", NOW, scope="segment", scope_value="enterprise")
    subscribe(db, "C-SMB", "alerts", NOW, scope="segment", scope_value="SMB")
    apply(db, [acme()], NOW, baseline=True)
    t = NOW + timedelta(minutes=1)
    apply(db, [acme(**{"new_use_case:voice": "voice first used on 2026-11-22"})], t)
    send(db, fake_slack, t)
    channels = sorted(p["channel"] for p in posts(fake_slack))
    dm = fake_slack.calls_to("conversations.open")[0].params["users"]
    assert dm == "U777"  # the AE, found by email
    assert channels == sorted(["C-ENT", channels[1]])
    assert channels[1].startswith("D")


def test_news_for_an_account_no_channel_covers_goes_to_its_csm(
    db: Engine, fake_slack: FakeSlack
) -> None:
    apply(db, [acme()], NOW, baseline=True)  # casey@example.com is U123 on this Slack
    t = NOW + timedelta(minutes=1)
    apply(db, [acme(inactive="No meaningful usage for 9 days.")], t)
    send(db, fake_slack, t)
    [message] = posts(fake_slack)
    assert message["channel"].startswith("D")
    assert fake_slack.calls_to("conversations.open")[0].params["users"] == "U123"


def test_two_workers_evaluating_the_same_account_announce_it_once(
    db: Engine, fake_slack: FakeSlack
) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    t = NOW + timedelta(minutes=1)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            apply(db, [acme(usage_drop="down", bill_shock="spike")], t)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(outbox_rows(db)) == 1
    with read_connection(db) as conn:
        states = alert_states.states_of(conn, ["acme"])["acme"]
    assert {k: s.status for k, s in states.items()} == {"bill_shock": "open", "usage_drop": "open"}


def test_a_tier_change_goes_to_the_csm_and_the_channel_once(
    db: Engine, fake_slack: FakeSlack
) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [acme()], NOW, baseline=True)
    moved = acme()
    moved = Evaluation(
        **{
            **{f: getattr(moved, f) for f in moved.__dataclass_fields__},
            "events": {"tier_change@2026-11-23": "scaled -> strategic: annual value $240k."},
        }
    )
    t = NOW + timedelta(minutes=1)
    apply(db, [moved], t)
    apply(db, [moved], t + timedelta(minutes=1))  # the same change seen again: not news
    send(db, fake_slack, t + timedelta(minutes=1))
    sent = posts(fake_slack)
    assert sorted(p["channel"][0] for p in sent) == ["C", "D"]  # the channel and the CSM's DM
    assert all(titles(p) == "Acme Corp: Tier changed" for p in sent)
    assert "scaled -> strategic" in texts(sent[0])


def company(n: int, **flags: str) -> Evaluation:
    return Evaluation(
        account_id=f"co-{n:02d}",
        name=f"Company {n:02d}",
        csm="casey@example.com",
        ae=None,
        segment="Enterprise",
        tier="scaled",
        flags=flags,
    )


def test_a_channel_gets_its_daily_cap_then_one_summary_of_the_rest(
    db: Engine, fake_slack: FakeSlack
) -> None:
    subscribe(db, "C123", "alerts", NOW)
    apply(db, [company(n) for n in range(7)], NOW, baseline=True)
    later = NOW + timedelta(minutes=1)
    flagged = [
        company(n, **({"renewal_risk": "Renews in 9 days."} if n < 2 else {"bill_shock": "x"}))
        for n in range(7)
    ]
    report = PassReport()
    with write_transaction(db) as conn:
        notices = record(conn, flagged, now=later, baseline=False, report=report)
        subs = list_subscriptions(conn, kind="alerts")
        route(conn, notices, subs, platform="slack", now=later, report=report, daily_cap=3)
    send(db, fake_slack, later)
    got = [titles(m) for m in posts(fake_slack, "C123")]
    # the most severe first (renewals are high, bill shock medium), then one summary
    assert got[:2] == ["Company 00: Renewal at risk", "Company 01: Renewal at risk"]
    assert got[2] == "Company 02: Bill-shock risk"
    assert len(got) == 4
    summary = str(posts(fake_slack, "C123")[3]["blocks"])
    assert "Alerts for 4 more accounts today" in got[3]
    assert "Bill-shock risk (4): Company 03, Company 04, Company 05, Company 06" in summary
    assert "at most 3 alert messages a day" in summary
    # later the same day: the cap holds, the news goes into another summary
    again = later + timedelta(hours=2)
    with write_transaction(db) as conn:
        notices = record(
            conn, [company(9, usage_drop="Usage -50%.")], now=again, baseline=False, report=report
        )
        route(conn, notices, subs, platform="slack", now=again, report=report, daily_cap=3)
    send(db, fake_slack, again)
    last = posts(fake_slack, "C123")[-1]
    assert titles(last) == "Alerts for 1 more account today"
    assert "Usage dropped (1): Company 09" in str(last["blocks"])
