"""Drawing a whole book: shapes and segments dealt out, company names, then each account."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date

from demo.book.accounts import build_account
from demo.book.catalog import (
    DEFAULT_EVENTS_PER_DAY_CAP,
    DEFAULT_METRICS,
    SEGMENTS,
    SHAPE_MIX,
    SHAPES,
)
from demo.book.model import Book
from demo.book.names import company_names
from demo.book.usage import holiday_factors


def generate_book(
    *,
    seed: int,
    accounts: int = 300,
    start: date,
    days: int = 365,
    metrics: Sequence[str] = DEFAULT_METRICS,
    mix: Mapping[str, float] | None = None,
    events_per_day_cap: int = DEFAULT_EVENTS_PER_DAY_CAP,
    event_scale: float = 1.0,
) -> Book:
    """Draw a book of ``accounts`` customers over ``days`` days from ``start``.

    ``metrics``: the metrics sold, the first used by every account (list prices in
    ``LIST_PRICES``). ``mix``: shape name -> weight (default ``SHAPE_MIX``); shapes are
    dealt in proportion, every shape with a weight appearing once the book is big
    enough. ``events_per_day_cap`` bounds each account's events per day and
    ``event_scale`` the events per active user and metric (1.0: one); neither changes
    quantities, which are aggregated into fewer, larger events.
    """
    metrics, weights = _checked(accounts, days, metrics, mix, events_per_day_cap, event_scale)
    rng = random.Random(f"steward-book:{seed}")
    shapes = _deal(rng, [(s, weights.get(s, 0.0)) for s in SHAPES], accounts)
    segments = _deal(rng, [(s.name, s.share) for s in SEGMENTS], accounts)
    names = company_names(rng, accounts)
    holiday = holiday_factors(start, days)

    built = [
        build_account(
            seed=seed,
            index=index,
            name=names[index],
            shape=shapes[index],
            segment=next(s for s in SEGMENTS if s.name == segments[index]),
            start=start,
            days=days,
            metrics=metrics,
            holiday=holiday,
        )
        for index in range(accounts)
    ]
    tickets = sorted(
        (ticket for account in built for ticket in account.tickets),
        key=lambda item: (item[0], item[1]),
    )
    return Book(
        seed=seed,
        start=start,
        days=days,
        metrics=metrics,
        events_per_day_cap=events_per_day_cap,
        event_scale=event_scale,
        accounts=[account.account for account in built],
        contracts=[account.contract for account in built],
        tickets=[ticket for _, _, ticket in tickets],
        truth={account.plan.id: account.truth for account in built},
        _plans=tuple(account.plan for account in built),
    )


def _checked(
    accounts: int,
    days: int,
    names: Sequence[str],
    mix: Mapping[str, float] | None,
    events_per_day_cap: int,
    event_scale: float,
) -> tuple[tuple[str, ...], dict[str, float]]:
    """(the metrics, the shape weights to deal); ValueError for arguments no book fits."""
    if accounts < 1 or days < 1:
        raise ValueError("a book needs at least one account and one day")
    metrics = tuple(names)
    if not metrics or len(set(metrics)) != len(metrics):
        raise ValueError("metrics must be a non-empty sequence of distinct names")
    if events_per_day_cap < len(metrics):
        raise ValueError("events_per_day_cap must allow one event per metric")
    if event_scale <= 0:
        raise ValueError("event_scale must be positive")
    weights = dict(SHAPE_MIX if mix is None else mix)
    unknown = [s for s in weights if s not in SHAPES]
    if unknown or not any(w > 0 for w in weights.values()):
        raise ValueError(f"mix must weigh some of {SHAPES}; unknown: {unknown}")
    return metrics, weights


def _deal(rng: random.Random, weights: Sequence[tuple[str, float]], count: int) -> list[str]:
    """``count`` labels in proportion to their weights (largest remainder), shuffled."""
    total = sum(w for _, w in weights if w > 0)
    exact = [(name, count * w / total) for name, w in weights if w > 0]
    dealt = {name: int(share) for name, share in exact}
    by_remainder = sorted(exact, key=lambda item: item[1] - int(item[1]), reverse=True)
    for name, _ in by_remainder[: count - sum(dealt.values())]:
        dealt[name] += 1
    labels = [name for name, _ in exact for _ in range(dealt[name])]
    rng.shuffle(labels)
    return labels
