"""The usage curve of each shape: its noise-free level per day, and when it changes."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(slots=True)
class Curve:
    level: list[float]  # the core usage level, 1.0 = baseline; 0 = nothing
    extra: list[float]  # the new use case's level on top
    spikes: dict[int, float]  # day -> extra spend, in baseline days, of a runaway job
    change: int | None = None
    lead: int = 0  # days of leading indicators before the change
    ramp: int = 0
    sign: int | None = None  # the day a new customer signs (slow_start)
    first_value: int | None = None


def draw_curve(shape: str, rng: random.Random, start: date, days: int) -> Curve:
    """The shape's noise-free level per day, with the day (and lead, ramp) of its change."""
    curve = Curve(level=[1.0] * days, extra=[0.0] * days, spikes={})
    draw = _DRAWS.get(shape)
    if draw is not None:
        draw(curve, rng, start, days)
    # under_use: the level is flat; the commit was sized for far more (see demo.book.accounts)
    return curve


def _steady(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    drift = rng.uniform(-0.08, 0.12)
    curve.level = [1.0 + drift * t / 365 for t in range(days)]


def _growing(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    c, ramp = _day(rng, days, 0.15, 0.6), rng.randint(60, 150)
    _grow(curve, rng, days, c, ramp, power=1.0, top=rng.uniform(2.0, 3.2))


def _early_exhaust(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    """Accelerating: the commit runs out months before the term ends."""
    c, ramp = _day(rng, days, 0.1, 0.3), rng.randint(45, 110)
    _grow(curve, rng, days, c, ramp, power=1.5, top=rng.uniform(2.6, 4.0))


def _grow(
    curve: Curve, rng: random.Random, days: int, c: int, ramp: int, *, power: float, top: float
) -> None:
    curve.change, curve.ramp, curve.lead = c, ramp, rng.randint(7, 28)
    curve.level = [1.0 + (top - 1.0) * _clip((t - c) / ramp) ** power for t in range(days)]


def _seasonal(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    amp = rng.uniform(0.25, 0.45)
    quarterly = rng.random() < 0.6
    peak = rng.uniform(0.6, 0.95) if quarterly else rng.random()
    curve.level = [
        1.0 + amp * math.cos(2 * math.pi * (_period_fraction(start, t, quarterly) - peak))
        for t in range(days)
    ]


def _declining(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    c, ramp, floor = _day(rng, days, 0.25, 0.6), rng.randint(40, 100), rng.uniform(0.05, 0.3)
    curve.change, curve.ramp, curve.lead = c, ramp, rng.randint(14, 42)
    curve.level = [1.0 - (1.0 - floor) * _clip((t - c) / ramp) for t in range(days)]


def _dormant(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    c = _day(rng, days, 0.5, 1.0, margin=21)
    curve.change, curve.lead = c, rng.randint(14, 42)
    curve.level = [1.0 if t < c else 0.0 for t in range(days)]


def _spiky(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    first = min(days - 1, max(days // 2, days - 1 - rng.randint(12, 45)))
    spike_days = sorted(
        rng.sample(range(first, min(first + 10, days)), min(rng.randint(3, 6), days - first))
    )
    mass = rng.uniform(45.0, 120.0)  # extra spend in baseline days: far above any budget
    shares = [rng.uniform(0.5, 1.5) for _ in spike_days]
    curve.spikes = {t: mass * s / sum(shares) for t, s in zip(spike_days, shares, strict=True)}
    curve.change = spike_days[0]


def _new_use_case(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    c, ramp, amp = _day(rng, days, 0.3, 0.7), rng.randint(14, 45), rng.uniform(0.8, 1.6)
    lead = rng.randint(7, 28)
    curve.change, curve.ramp, curve.lead = c, ramp, lead
    curve.extra = [
        amp * _clip((t - c) / ramp) if t >= c else (0.03 * amp if t >= c - lead else 0.0)
        for t in range(days)
    ]


def _slow_start(curve: Curve, rng: random.Random, start: date, days: int) -> None:
    sign = _day(rng, days, 0.0, 0.45)
    fv = min(sign + rng.randint(21, 70), days - 1)
    ramp = rng.randint(21, 60)
    curve.sign, curve.first_value, curve.change, curve.ramp = sign, fv, fv, ramp
    curve.level = [0.0 if t < fv else 0.15 + 0.85 * _clip((t - fv) / ramp) for t in range(days)]
    if fv - sign > 2:  # a few test calls in the weeks before anything real
        for t in rng.sample(range(sign + 1, fv), min(rng.randint(2, 4), fv - sign - 1)):
            curve.level[t] = rng.uniform(0.003, 0.01)


_DRAWS: dict[str, Callable[[Curve, random.Random, date, int], None]] = {
    "steady": _steady,
    "growing": _growing,
    "early_exhaust": _early_exhaust,
    "seasonal": _seasonal,
    "declining": _declining,
    "dormant": _dormant,
    "spiky": _spiky,
    "new_use_case": _new_use_case,
    "slow_start": _slow_start,
}


def _clip(x: float) -> float:
    return 0.0 if x <= 0 else 1.0 if x >= 1 else x


def _day(rng: random.Random, days: int, lo: float, hi: float, *, margin: int = 0) -> int:
    """A day between the fractions ``lo`` and ``hi`` of the book, ``margin`` days before its end."""
    first = int(days * lo)
    last = min(int(days * hi), days - 1 - margin)
    return min(max(rng.randint(first, max(first, last)), 0), days - 1)


def _period_fraction(start: date, t: int, quarterly: bool) -> float:
    """How far day ``t`` is into its quarter (or month), from 0 to just under 1."""
    d = start + timedelta(days=t)
    if quarterly:
        q_first = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
        q_next = date(d.year + (q_first.month == 10), (q_first.month + 2) % 12 + 1, 1)
        return (d - q_first).days / (q_next - q_first).days
    m_next = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (d.day - 1) / (m_next - date(d.year, d.month, 1)).days
