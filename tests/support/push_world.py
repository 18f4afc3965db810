"""A worker's world for the push tests: a clock to time-travel, jobs, subscriptions, posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from bot.worker import build_jobs
from services.container import Services
from services.jobs import Jobs
from storage import outbox
from storage.db import read_connection, write_transaction
from storage.subscriptions import Sub, upsert_subscription
from tests.support.fakes.slack import FakeSlack
from tests.support.slack_world import slack_services


@dataclass
class Clock:
    """The time the code under test sees; tests move it, nothing sleeps."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def push_services(
    engine: Engine, database_url: str, fake: FakeSlack, clock: Clock, **extra: Any
) -> Services:
    services = slack_services(engine, database_url, fake, **extra)
    services.clock = clock
    return services


def jobs_of(services: Services) -> Jobs:
    return build_jobs(services)


def subscribe(engine: Engine, channel: str, kind: str, now: datetime, **fields: Any) -> Sub:
    with write_transaction(engine) as conn:
        sub, _ = upsert_subscription(
            conn, platform="slack", channel=channel, kind=kind, created_by="U123", now=now, **fields
        )
    return sub


def posts(fake: FakeSlack, channel: str | None = None) -> list[dict[str, Any]]:
    """Messages chat.postMessage accepted (in ``channel``), oldest first."""
    found = []
    for call in fake.calls_to("chat.postMessage"):
        ok = call.failed_with is None and isinstance(call.response, dict) and call.response["ok"]
        if ok and (channel is None or call.params.get("channel") == channel):
            found.append(call.params)
    return found


def outbox_rows(engine: Engine) -> list[outbox.Message]:
    with read_connection(engine) as conn:
        return outbox.messages(conn, limit=1000)
