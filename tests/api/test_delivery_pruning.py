"""Webhook deliveries are forgotten after their replay window, not kept for ever; a
redelivery inside the window still gets its first answer, and events stay counted once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.worker import build_jobs
from services.container import Services
from services.jobs import DELIVERY_REPLAY_WINDOW
from storage import tables
from tests.support.events import batch
from tests.support.sender import Sender
from tests.support.server import counts


def _age(db: Engine, delivery_id: str, age: timedelta, now: object) -> None:
    """Make a delivery look ``age`` old (as if received then)."""
    d = tables.webhook_deliveries.c
    with db.begin() as conn:
        conn.execute(
            tables.webhook_deliveries.update()
            .where(d.id == delivery_id)
            .values(received_at=now - age)  # type: ignore[operator]
        )


def _kept(db: Engine) -> set[str]:
    with db.connect() as conn:
        return set(conn.scalars(sa.select(tables.webhook_deliveries.c.id)))


def test_the_daily_prune_forgets_deliveries_past_their_replay_window(
    sender: Sender, db: Engine, services: Services
) -> None:
    old, recent = batch(5), batch(5, start=5)
    assert sender.signed("/v1/events", old, msg_id="msg_old").status_code == 200
    assert sender.signed("/v1/events", recent, msg_id="msg_recent").status_code == 200
    now = services.clock()
    _age(db, "msg_old", DELIVERY_REPLAY_WINDOW + timedelta(hours=1), now)
    _age(db, "msg_recent", DELIVERY_REPLAY_WINDOW - timedelta(hours=1), now)

    summary = build_jobs(services).run("prune")

    assert "1 webhook deliveries older than 7 days forgotten" in summary
    assert _kept(db) == {"msg_recent"}
    again = sender.signed("/v1/events", recent, msg_id="msg_recent")
    assert again.json()["duplicate_delivery"] is True  # inside the window: the first answer
    late = sender.signed("/v1/events", old, msg_id="msg_old")
    assert late.json() == {"received": 5, "accepted": 0, "duplicates": 5}  # new, yet counted once
    assert counts(db)["daily_events"] == 10
