"""The generated book, and each account's plan its events are streamed from."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from demo.book.people import User
from demo.book.truth import Truth


@dataclass(slots=True)
class Plan:
    """Everything needed to stream one account's events."""

    index: int
    id: str
    tz: str
    metrics: tuple[int, ...]  # the book's metric indices this account uses; primary first
    totals: dict[int, array[int]]  # metric index -> quantity per local day
    spike_q: dict[int, int]  # day -> quantity of the primary metric from the runaway job
    new_share: list[float] | None  # per day, the share of volume from the new use case
    users: list[User]
    spike_user: User | None
    new_feature: str | None
    core_feature: str
    narrow_day: int | None  # from this day, remaining users use only the core feature
    success_rate: float
    success_drop: float
    success_drop_day: int | None
    active_rate: float
    weekend_users: float


@dataclass(frozen=True)
class Book:
    """A generated book: payloads for the ingestion API and the truth behind them."""

    seed: int
    start: date
    days: int
    metrics: tuple[str, ...]
    events_per_day_cap: int
    event_scale: float
    accounts: list[dict[str, Any]]
    contracts: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
    truth: dict[str, Truth]
    _plans: tuple[Plan, ...] = field(repr=False, compare=False)

    @property
    def end(self) -> date:
        """The book's last day."""
        return self.start + timedelta(days=self.days - 1)
