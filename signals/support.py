"""Support load: open and recent tickets weighted by priority, and satisfaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from signals.model import Ticket

PRIORITY_WEIGHT = {"low": 0.5, "normal": 1.0, "high": 2.0, "urgent": 3.0}
CSAT_DAYS = 90
CLOSED = frozenset({"solved", "closed"})
LOW_CSAT = 2.5


@dataclass(frozen=True, slots=True)
class SupportLoad:
    """Tickets as of the end of one day."""

    open_tickets: int
    open_urgent: int  # high or urgent
    opened_recent: int
    weighted_recent: float  # opened in the window, weighted by priority
    csat: float | None  # average over tickets solved in the last 90 days
    window_days: int

    @property
    def load(self) -> float:
        """One figure for the load: weighted recent tickets plus urgent ones still open."""
        return self.weighted_recent + 1.5 * self.open_urgent

    @property
    def low_csat(self) -> bool:
        """Average satisfaction at or below 2.5 of 5."""
        return self.csat is not None and self.csat <= LOW_CSAT

    def explain(self) -> str:
        """Support in one sentence."""
        text = (
            f"{self.opened_recent} tickets opened in the last {self.window_days} days, "
            f"{self.open_tickets} open ({self.open_urgent} high or urgent)"
        )
        if self.csat is not None:
            text += f"; CSAT {self.csat:.1f}/5"
        return text + "."


def support_load(tickets: Sequence[Ticket], as_of: date, window_days: int) -> SupportLoad:
    """Count the tickets known at the end of as_of."""
    end = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC)
    window_start = end - timedelta(days=window_days)
    csat_start = end - timedelta(days=CSAT_DAYS)
    known = [t for t in tickets if t.opened_at < end]
    still_open = [
        t
        for t in known
        if (t.solved_at is None and t.status not in CLOSED) or (t.solved_at and t.solved_at >= end)
    ]
    recent = [t for t in known if t.opened_at >= window_start]
    rated = [
        t.csat
        for t in known
        if t.csat is not None and t.solved_at is not None and csat_start <= t.solved_at < end
    ]
    return SupportLoad(
        open_tickets=len(still_open),
        open_urgent=sum(1 for t in still_open if t.priority in ("high", "urgent")),
        opened_recent=len(recent),
        weighted_recent=sum(PRIORITY_WEIGHT.get(t.priority, 1.0) for t in recent),
        csat=sum(rated) / len(rated) if rated else None,
        window_days=window_days,
    )
