"""The book's usage events in time order, and every payload in ingestion order.

Each account's events come from its own random stream, a day at a time: the day's
planned quantity per metric is split over the users active that day (weighted, at most
``events_per_day_cap`` events), at office hours mostly, a runaway job's at night.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from operator import itemgetter
from typing import Any, Literal
from zoneinfo import ZoneInfo

from demo.book.catalog import SUCCESS_METRICS
from demo.book.model import Book, Plan
from demo.book.people import User

PayloadKind = Literal["accounts", "contracts", "tickets", "events"]
_MAX_UTC_OFFSET = 14 * 3600  # no local day starts earlier than 14 h before its UTC midnight
_SEQ_BITS = 32
_first = itemgetter(0)


def iter_events(book: Book) -> Iterator[dict[str, Any]]:
    """Every usage event of the book (EventIn payloads), in time order.

    Events are made one day at a time and held until no later day can precede them,
    so memory holds about two days of events. Events at the same second come in a fixed
    order. Per account, metric and local day, the quantities add up to the planned total.
    """
    epoch0 = int(datetime.combine(book.start, time(0), tzinfo=UTC).timestamp())
    dates = [book.start + timedelta(days=t) for t in range(book.days)]
    calendar = _Calendar(
        epoch0=epoch0,
        dow0=book.start.weekday(),
        day_text=[d.isoformat() + "T" for d in dates],
        day_compact=[d.strftime("%Y%m%d") for d in dates],
        clock=_clock_texts(),
    )
    zones = {tz: _offsets(tz, book.start, book.days) for tz in sorted({p.tz for p in book._plans})}
    makers = [_EventMaker(book, plan, calendar, zones[plan.tz]) for plan in book._plans]
    pending: list[tuple[int, dict[str, Any]]] = []
    for t in range(book.days):
        for maker in makers:
            maker.day(t, pending)
        pending.sort(key=_first)
        # A later local day starts at least 14 h before its UTC midnight: all before is final.
        horizon = (epoch0 + 86_400 * (t + 1) - _MAX_UTC_OFFSET) << _SEQ_BITS
        ready = _count_below(pending, horizon)
        for _, event in pending[:ready]:
            yield event
        del pending[:ready]
    pending.sort(key=_first)
    for _, event in pending:
        yield event


def book_payload_batches(
    book: Book, batch_size: int = 2000
) -> Iterator[tuple[PayloadKind, list[dict[str, Any]]]]:
    """(kind, payloads) in ingestion order: accounts, contracts, tickets, then events.

    Batches hold at most ``batch_size`` items (the API takes up to 5,000 per request).
    The dicts are the book's own: copy them before changing them.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    records: tuple[tuple[PayloadKind, list[dict[str, Any]]], ...] = (
        ("accounts", book.accounts),
        ("contracts", book.contracts),
        ("tickets", book.tickets),
    )
    for kind, items in records:
        for i in range(0, len(items), batch_size):
            yield kind, items[i : i + batch_size]
    batch: list[dict[str, Any]] = []
    for event in iter_events(book):
        batch.append(event)
        if len(batch) == batch_size:
            yield "events", batch
            batch = []
    if batch:
        yield "events", batch


def _count_below(pending: list[tuple[int, dict[str, Any]]], key: int) -> int:
    lo, hi = 0, len(pending)
    while lo < hi:
        mid = (lo + hi) // 2
        if pending[mid][0] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@cache
def _clock_texts() -> tuple[str, ...]:
    """ "HH:MM:SS" for every second of a day."""
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))


def _offsets(tz: str, start: date, days: int) -> tuple[list[int], list[str]]:
    """The zone's UTC offset at noon of each day, in seconds and as "+HH:MM"."""
    zone = ZoneInfo(tz)
    seconds, texts = [], []
    for t in range(days):
        offset = datetime.combine(start + timedelta(days=t), time(12), tzinfo=zone).utcoffset()
        secs = int(offset.total_seconds()) if offset is not None else 0
        sign = "-" if secs < 0 else "+"
        seconds.append(secs)
        texts.append(f"{sign}{abs(secs) // 3600:02d}:{abs(secs) // 60 % 60:02d}")
    return seconds, texts


@dataclass(frozen=True, slots=True)
class _Calendar:
    epoch0: int  # the book's first day, 00:00 UTC, in Unix seconds
    dow0: int
    day_text: list[str]  # "YYYY-MM-DDT" per day
    day_compact: list[str]  # "YYYYMMDD" per day
    clock: tuple[str, ...]


class _EventMaker:
    """One account's events, day after day, from its own random stream."""

    def __init__(
        self, book: Book, plan: Plan, calendar: _Calendar, zone: tuple[list[int], list[str]]
    ) -> None:
        self.plan = plan
        self.rng = random.Random(f"steward-book:{book.seed}:events:{plan.index}")
        self.calendar = calendar
        self.offset_seconds, self.offset_texts = zone
        self.metric_names = book.metrics
        self.cap = book.events_per_day_cap
        self.scale = book.event_scale
        self.id_prefix = f"bk{book.seed}-{plan.id}-"
        self.seq = plan.index << 24  # a tie-breaker unique within the pending window

    def day(self, t: int, out: list[tuple[int, dict[str, Any]]]) -> None:
        """Add day ``t``'s events to ``out`` as (sort key, EventIn payload)."""
        p = self.plan
        today = [(i, p.totals[i][t]) for i in p.metrics if p.totals[i][t] > 0]
        if not today:
            return
        active = self._active(t)
        day = self._day(t)
        share = p.new_share[t] if p.new_share is not None else 0.0
        cap = max(1, self.cap // len(today))
        count = 0
        for i, total in today:
            spike = p.spike_q.get(t, 0) if i == 0 else 0
            runs = 0
            slots = [u for u in active if i in u.metrics] or active[:1]
            if self.scale != 1.0:
                slots = self._scaled(slots)
            slots = slots[:cap]
            parts = self._parts(slots, total - spike, share)
            if spike and p.spike_user is not None:  # a runaway job, at night
                runs = self.rng.randint(2, 4)
                parts.extend((p.spike_user, q) for q in self._split(runs, spike))
            count = self._emit(day, self.metric_names[i], parts, len(parts) - runs, count, out)

    def _active(self, t: int) -> list[User]:
        """The users active on day ``t``: a share of those on board, fewer at weekends."""
        p, rng, cal = self.plan, self.rng, self.calendar
        eligible = [u for u in p.users if u.join <= t < u.leave] or p.users[:1]
        weekend = (cal.dow0 + t) % 7 >= 5
        rate = p.active_rate * (p.weekend_users if weekend else 1.0)
        n_active = round(len(eligible) * rate * (0.75 + 0.5 * rng.random()))
        return rng.sample(eligible, min(len(eligible), max(1, n_active)))

    def _day(self, t: int) -> _Day:
        p, cal = self.plan, self.calendar
        dropped = p.success_drop_day is not None and t >= p.success_drop_day
        return _Day(
            midnight=cal.epoch0 + 86_400 * t - self.offset_seconds[t],
            id_prefix=self.id_prefix + cal.day_compact[t] + "-",
            day_text=cal.day_text[t],
            offset=self.offset_texts[t],
            narrow=p.narrow_day is not None and t >= p.narrow_day,
            success_rate=p.success_rate - (p.success_drop if dropped else 0.0),
        )

    def _emit(
        self,
        day: _Day,
        metric: str,
        parts: list[tuple[User, int]],
        night_from: int,
        count: int,
        out: list[tuple[int, dict[str, Any]]],
    ) -> int:
        """Add an event per part (from ``night_from`` on, the runaway job's); return the count."""
        p, rand, clock = self.plan, self.rng.random, self.calendar.clock
        with_success = metric in SUCCESS_METRICS
        for n, (user, quantity) in enumerate(parts):
            if quantity <= 0:
                continue
            if n >= night_from:
                second = int(rand() * 18_000)
            elif rand() < 0.85:
                second = 28_800 + int(rand() * 36_000)
            else:
                second = int(rand() * 86_400)
            if user.new_stream and p.new_feature is not None:
                feature = p.new_feature
            elif day.narrow:
                feature = p.core_feature
            else:
                feature = user.features[int(rand() * len(user.features))]
            event: dict[str, Any] = {
                "id": day.id_prefix + str(count),
                "account": p.id,
                "timestamp": day.day_text + clock[second] + day.offset,
                "metric": metric,
                "quantity": quantity,
                "user": user.id,
                "feature": feature,
                "team": user.team,
            }
            if with_success:
                event["success"] = rand() < day.success_rate
            self.seq = (self.seq + 1) & 0xFFFF_FFFF
            out.append((((day.midnight + second) << _SEQ_BITS) | self.seq, event))
            count += 1
        return count

    def _scaled(self, slots: list[User]) -> list[User]:
        whole, frac = int(self.scale), self.scale - int(self.scale)
        scaled = [u for u in slots for _ in range(whole + (self.rng.random() < frac))]
        return scaled or slots[:1]

    def _parts(self, slots: list[User], total: int, share: float) -> list[tuple[User, int]]:
        """Split a day's quantity over the slots; new-use-case users carry its share."""
        if share > 0:
            new = [u for u in slots if u.new_stream]
            core = [u for u in slots if not u.new_stream]
            if new and core:
                new_total = int(total * share + 0.5)
                return self._weighted(core, total - new_total) + self._weighted(new, new_total)
        return self._weighted(slots, total)

    def _weighted(self, users: list[User], total: int) -> list[tuple[User, int]]:
        if total <= 0 or not users:
            return []
        users = users[:total]
        weights = [u.weight * (0.5 + self.rng.random()) for u in users]
        scale = total / sum(weights)
        parts = [int(w * scale) for w in weights]
        parts[0] += total - sum(parts)
        return list(zip(users, parts, strict=True))

    def _split(self, count: int, total: int) -> list[int]:
        count = max(1, min(count, total))
        weights = [0.5 + self.rng.random() for _ in range(count)]
        scale = total / sum(weights)
        parts = [int(w * scale) for w in weights]
        parts[0] += total - sum(parts)
        return parts


@dataclass(frozen=True, slots=True)
class _Day:
    """What one account's events of one day share."""

    midnight: int  # the local day's start, in Unix seconds
    id_prefix: str
    day_text: str  # "YYYY-MM-DDT"
    offset: str  # "+HH:MM"
    narrow: bool  # users keep to the core feature
    success_rate: float
