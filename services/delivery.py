"""The contract between the jobs that queue messages and the platforms that post them.

Jobs write Cards to the outbox (storage.outbox); a :class:`Sender` per platform (Slack,
Teams, the terminal; in bot/adapters/) posts what is due and says what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass
class SendReport:
    """What one pass over a platform's due messages did.

    ``found`` counts messages an earlier sender posted before dying, found by their key
    and marked sent instead of posted again: only platforms that can read a
    conversation's history (``finds_earlier``) do that.
    """

    sent: int = 0
    found: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    finds_earlier: bool = False

    @property
    def settled(self) -> int:
        """Messages this pass is done with (posted, found, or failed for good)."""
        return self.sent + self.found + self.failed

    def words(self) -> str:
        """One line for logs and the CLI."""
        found = f"{self.found} found already posted, " if self.finds_earlier else ""
        return f"{self.sent} sent, {found}{self.retried} to retry, {self.failed} failed"


class Sender(Protocol):
    """Posts a platform's due outbox messages."""

    def send_due(self, now: datetime) -> SendReport:
        """Post what is due at ``now``; what happened."""
        ...
