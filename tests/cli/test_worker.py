"""`steward worker` and `steward run-job` as real processes against the fake Slack."""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.settings import IngestLimits
from handlers.api.payloads import validate
from services.ingest import store
from storage import repository
from storage.db import read_connection
from tests.support.cli import STEWARD, environment, run_together, steward
from tests.support.fakes.slack import FakeSlack
from tests.support.push_world import Clock, jobs_of, outbox_rows, posts, push_services, subscribe
from tests.support.slack_world import BOT_TOKEN, NOW, seed_book, valid_blocks

CHANNELS = [f"C{n:03d}" for n in range(12)]


@pytest.fixture(autouse=True)
def channels(fake_slack: FakeSlack) -> None:
    """The channels these tests post to, as Slack knows them (C123 is always there)."""
    for channel in [*CHANNELS, "C-ALERTS"]:
        fake_slack.add_channel(channel)


def slack_env(database_url: str, fake: FakeSlack, **extra: str) -> dict[str, str]:
    """The variables that point a `steward` process at the test database and the fake Slack."""
    return {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
        "SLACK_API_URL": fake.base_url,
        **extra,
    }


@pytest.fixture
def book(db: Engine) -> dict[str, str]:
    return seed_book(db).ids


def test_two_workers_post_each_digest_exactly_once(
    book: dict[str, str], db: Engine, database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    for channel in CHANNELS:
        subscribe(db, channel, "digest", NOW, at_time="08:30", timezone="Europe/Paris")
    at = "2026-11-23T07:31:00+00:00"  # 08:31 in Paris
    env = environment(**slack_env(database_url, fake_slack))
    outputs = run_together(["run-job", "digests", "--at", at], env=env, cwd=tmp_path)
    per_channel = {c: len(posts(fake_slack, c)) for c in CHANNELS}
    assert per_channel == dict.fromkeys(CHANNELS, 1)
    rows = outbox_rows(db)
    assert len(rows) == len(CHANNELS)
    assert {r.status for r in rows} == {"sent"}
    assert {r.period for r in rows} == {"2026-11-23"}
    queued = sum(int(out.split(" digests queued")[0].split()[-1]) for out, _ in outputs)
    assert queued == len(CHANNELS)  # between them, not each
    message = posts(fake_slack, CHANNELS[0])[0]
    valid_blocks(message)
    assert "Morning digest: all accounts" in str(message["blocks"])


def test_the_worker_posts_the_digest_and_alerts_for_new_data_then_stops_on_sigterm(
    book: dict[str, str], db: Engine, database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    at = max(now - timedelta(hours=1), now.replace(hour=0, minute=0))
    subscribe(db, "C123", "digest", NOW, at_time=f"{at:%H:%M}", timezone="UTC")
    subscribe(db, "C-ALERTS", "alerts", NOW)
    services = push_services(db, database_url, fake_slack, Clock(now))
    assert "first pass" in jobs_of(services).run("alerts")  # the stored book: a silent baseline
    worker = subprocess.Popen(
        [STEWARD, "worker"],
        cwd=tmp_path,
        env=environment(**slack_env(database_url, fake_slack, STEWARD_WORKER_TICK="1")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake_slack.wait_for_calls("chat.postMessage", 1, timeout=60)
        [digest] = posts(fake_slack, "C123")
        assert "Morning digest" in str(digest["blocks"])
        assert posts(fake_slack, "C-ALERTS") == []
        globex = book["globex"]
        event = {
            "id": "evt-new-feature",
            "account": globex,
            "metric": "api_calls",
            "timestamp": datetime.now(UTC).isoformat(),
            "quantity": 40,
            "feature": "voice-agent",
        }
        checked = validate("events", [event], now=datetime.now(UTC), limits=IngestLimits())
        assert not checked.errors, checked.errors
        store(db, "events", [m for _, m in checked.items], now=datetime.now(UTC))
        fake_slack.wait_for_calls("chat.postMessage", 2, timeout=60)
        [alert] = posts(fake_slack, "C-ALERTS")
        assert "Quibble Inc" in str(alert["blocks"])
        assert "New use case" in str(alert["blocks"])
        assert "voice-agent" in str(alert["blocks"])
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "Traceback" not in err
    assert "xoxb-" not in err  # no token in the logs
    assert "sent alert" in err
    assert "sent digest" in err


def test_digest_now_posts_today_once_and_says_so_the_second_time(
    book: dict[str, str], db: Engine, database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    subscribe(db, "C123", "digest", NOW, at_time="23:59", timezone="Pacific/Kiritimati")
    env = slack_env(database_url, fake_slack)
    first = steward("digest", "--channel", "C123", "--now", cwd=tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "1 digests queued" in first.stdout
    assert "1 sent" in first.stdout
    again = steward("digest", "--channel", "C123", "--now", cwd=tmp_path, **env)
    assert "0 digests queued, 1 already queued or sent" in again.stdout
    assert len(posts(fake_slack, "C123")) == 1
    unknown = steward("digest", "--channel", "C-NOPE", "--now", cwd=tmp_path, **env)
    assert unknown.returncode == 2
    assert "no digest subscription" in unknown.stderr


def test_run_job_names_the_jobs_when_given_an_unknown_one(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    result = steward("run-job", "nope", cwd=tmp_path, DATABASE_URL=database_url)
    assert result.returncode == 2
    assert "alerts, snapshot, tiers, digests, manager, send, prune" in result.stderr


def test_snapshot_job_scores_yesterday_and_announces_tier_changes_once(
    book: dict[str, str], db: Engine, database_url: str, fake_slack: FakeSlack
) -> None:
    clock = Clock(NOW)
    jobs = jobs_of(push_services(db, database_url, fake_slack, clock))
    subscribe(db, "C123", "alerts", NOW)
    first = jobs.run("snapshot")
    yesterday = (NOW - timedelta(days=1)).date()
    assert first.startswith(f"scored {len(book_ids(db))} accounts as of {yesterday}")
    assert "first pass" in first  # the baseline: nothing announced
    assert posts(fake_slack) == []
    clock.advance(days=1)
    jobs.run("snapshot")
    after_snapshot = len(posts(fake_slack))
    assert "0 messages queued" in jobs.run("tiers")  # the same day again: nothing new
    assert len(posts(fake_slack)) == after_snapshot
    keys = [r.key for r in outbox_rows(db)]
    assert len(keys) == len(set(keys))


def book_ids(db: Engine) -> list[str]:
    with read_connection(db) as conn:
        return sorted(repository.account_routing(conn))
