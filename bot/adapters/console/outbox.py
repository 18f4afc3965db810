"""The terminal as a platform the worker's jobs can post to (the demo's sender).

The jobs queue digests and alerts for ``console`` subscriptions in the outbox like for
any platform; this sender takes what is due and records it as delivered. The terminal
then shows the delivered messages from the outbox (see ``delivered``), so what the demo
prints is exactly what the jobs composed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from core.messages import Card, card_from_dict
from services.delivery import SendReport
from storage import outbox
from storage.db import read_connection, write_transaction

PLATFORM = "console"
LEASE = timedelta(minutes=1)
BATCH = 200


class Delivered(SendReport):
    """What one ``send_due`` delivered (nothing is ever retried or failed here)."""

    def words(self) -> str:
        """One line for the job's summary."""
        return f"{self.sent} delivered to the terminal"


class ConsoleOutbox:
    """Deliver the console platform's due outbox messages (a services.delivery.Sender)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def send_due(self, now: datetime) -> Delivered:
        """Mark every due console message as delivered; return how many."""
        report = Delivered()
        while True:
            with write_transaction(self.engine) as conn:
                claimed = outbox.claim_due(
                    conn, platform=PLATFORM, now=now, lease=LEASE, limit=BATCH
                )
                for message in claimed:
                    outbox.mark_sent(
                        conn,
                        message.id,
                        channel=message.channel,
                        platform_id=f"{PLATFORM}:{message.id}",
                        now=now,
                    )
            report.sent += len(claimed)
            if len(claimed) < BATCH:
                return report


def delivered(
    engine: Engine, *, channel: str, kind: str, since: datetime | None = None, limit: int = 1000
) -> list[Card]:
    """The cards of one kind delivered to a console channel (queued since a time), newest first."""
    with read_connection(engine) as conn:
        found = outbox.messages(conn, statuses=["sent"], channel=channel, limit=limit)
    return [
        card_from_dict(m.card)
        for m in found
        if m.platform == PLATFORM and m.kind == kind and (since is None or m.created_at >= since)
    ]
