"""Personal follows over Slack: typed as signed commands, delivered once by direct message."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.adapters.slack.outbox import SlackOutbox
from core.settings import IngestLimits
from digests.alerts import Evaluation, PassReport, record, route
from handlers.api.payloads import validate
from services.ingest import store
from storage.db import write_transaction
from storage.subscriptions import list_subscriptions
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import outbox_rows, posts, subscribe
from tests.support.slack_world import BOT_TOKEN, serve, slack_services

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def add_accounts(db: Engine) -> None:
    rows = [
        {"id": "acme", "name": "Acme Corp", "csm": "someone@example.com"},
        {"id": "globex", "name": "Globex", "csm": "someone@example.com"},
    ]
    checked = validate("accounts", rows, now=NOW, limits=IngestLimits())
    assert not checked.errors
    store(db, "accounts", [m for _, m in checked.items], now=NOW)


def evaluation(account_id: str, **flags: str) -> Evaluation:
    return Evaluation(
        account_id=account_id,
        name=account_id.title(),
        csm="someone@example.com",
        ae=None,
        segment="Enterprise",
        tier="strategic",
        flags=flags,
    )


def alert_pass(db: Engine, evaluations: list[Evaluation], now: datetime, **kw: bool) -> None:
    report = PassReport(baseline=kw.get("baseline", False))
    with write_transaction(db) as conn:
        notices = record(conn, evaluations, now=now, baseline=report.baseline, report=report)
        route(conn, notices, list_subscriptions(conn, kind="alerts"), platform="slack", now=now,
              report=report)  # fmt: skip


def test_a_followed_account_alerts_its_follower_once_across_two_workers(
    db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    add_accounts(db)
    subscribe(db, "C123", "alerts", NOW, scope="tier", scope_value="scaled")  # covers neither
    server, slack = serve(slack_services(db, database_url, fake_slack), fake_slack)
    with server:
        assert slack.command("/steward", "follow acme", "follow").status_code == 200
        assert slack.command("/steward", "follows", "list").status_code == 200
        [followed] = fake_slack.wait_for_responses("follow", 1)
        [listed] = fake_slack.wait_for_responses("list", 1)
    assert "Following Acme Corp" in json.dumps(followed)
    assert "Acme Corp" in json.dumps(listed)
    assert "Globex" not in json.dumps(listed)

    alert_pass(db, [evaluation("acme"), evaluation("globex")], NOW, baseline=True)
    later = NOW + timedelta(minutes=1)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            drops = [
                evaluation("acme", usage_drop="down 40%"),
                evaluation("globex", usage_drop="x"),
            ]
            alert_pass(db, drops, later)
            SlackOutbox.from_settings(db, BOT_TOKEN, fake_slack.base_url).send_due(later)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    rows = [r for r in outbox_rows(db) if r.channel == "user:U123"]
    assert [(r.account_id, r.status) for r in rows] == [("acme", "sent")]
    [message] = posts(fake_slack)
    assert message["channel"].startswith("D")  # the follower's direct message with Steward
    assert "Acme" in json.dumps(message["blocks"])


def test_unfollow_stops_the_alerts(db: Engine, database_url: str, fake_slack: FakeSlack) -> None:
    add_accounts(db)
    server, slack = serve(slack_services(db, database_url, fake_slack), fake_slack)
    with server:
        slack.command("/steward", "follow acme", "follow")
        fake_slack.wait_for_responses("follow", 1)
        slack.command("/steward", "unfollow acme", "unfollow")
        [gone] = fake_slack.wait_for_responses("unfollow", 1)
    assert "Unfollowed Acme Corp" in json.dumps(gone)
    alert_pass(db, [evaluation("acme")], NOW, baseline=True)
    alert_pass(db, [evaluation("acme", usage_drop="down")], NOW + timedelta(minutes=1))
    assert [r.channel for r in outbox_rows(db)] == ["user:someone@example.com"]  # its CSM only
