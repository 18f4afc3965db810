"""The drain loop every platform sender shares: claim due messages, post each, settle it.

A platform subclasses :class:`OutboxSender` and writes only what is its own: how to
post one message (and, on Slack, how to find one posted before a crash). Claiming
with a lease, marking sent, and deciding between a retry and failing for good
(storage.outbox.settle_failure) happen here, once.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy.engine import Engine

from services.delivery import SendReport
from storage import outbox
from storage.db import write_transaction

LEASE = timedelta(minutes=2)  # a message claimed by a sender that died is claimed again after
BATCH = 50
LIMIT = 200  # messages settled per pass, so that one pass does not hold the worker for long


class Undeliverable(Exception):
    """A message the platform will never take as it is (the text says why)."""


class OutboxSender(ABC):
    """Posts one platform's due outbox messages (the :class:`services.delivery.Sender`)."""

    platform: ClassVar[str]
    finds_earlier: ClassVar[bool] = False  # can find a post a dead sender made (Slack)

    def __init__(self, engine: Engine, shared: frozenset[str] = frozenset()) -> None:
        self.engine = engine
        self.shared = shared  # conversations with another organisation allowed account data

    def send_due(self, now: datetime, *, limit: int = LIMIT) -> SendReport:
        """Send every message due now (claimed in batches); return what happened."""
        return asyncio.run(self._drain(now, limit))

    async def _drain(self, now: datetime, limit: int) -> SendReport:
        report = SendReport(finds_earlier=self.finds_earlier)
        while True:
            batch = await asyncio.to_thread(self._claim, now)
            for message in batch:
                await self.send_one(message, now, report)
            if len(batch) < BATCH or report.settled >= limit:
                return report

    def _claim(self, now: datetime) -> list[outbox.Message]:
        with write_transaction(self.engine) as conn:
            return outbox.claim_due(conn, platform=self.platform, now=now, lease=LEASE, limit=BATCH)

    @abstractmethod
    async def send_one(self, message: outbox.Message, now: datetime, report: SendReport) -> None:
        """Post one claimed message, then mark it sent or settle its failure."""

    def mark_sent(
        self, message: outbox.Message, channel: str, platform_id: str, now: datetime
    ) -> None:
        """Record where the message went and the platform's id for it."""
        with write_transaction(self.engine) as conn:
            outbox.mark_sent(conn, message.id, channel=channel, platform_id=platform_id, now=now)

    def settle(
        self,
        message: outbox.Message,
        report: SendReport,
        *,
        error: str,
        cause: outbox.Cause,
        retry_after: timedelta | None,
        now: datetime,
    ) -> None:
        """Queue the message again (after ``retry_after`` or a backoff) or fail it for good
        (storage.outbox.settle_failure says which, by ``cause``)."""
        with write_transaction(self.engine) as conn:
            wait = outbox.settle_failure(
                conn, message, error=error, cause=cause, retry_after=retry_after, now=now
            )
        if wait is None:
            report.failed += 1
        else:
            report.retried += 1
        report.errors.append(error)
