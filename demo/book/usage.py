"""Daily usage quantities: the curve times the week's rhythm, holidays, wobble and noise."""

from __future__ import annotations

import math
import random
from array import array
from dataclasses import dataclass
from datetime import date, timedelta

from demo.book.shapes import Curve


@dataclass(frozen=True, slots=True)
class Rhythm:
    """An account's week (weekdays busier, per day of the week) and its slow wobble."""

    always_on: bool  # runs around the clock: busier weekends
    week: list[float]  # Monday first; averages 1.0
    wobble: list[tuple[float, float, float]]  # (amplitude, period in days, phase)


def draw_rhythm(rng: random.Random) -> Rhythm:
    """Weekdays busier (some accounts run around the clock), and a slow wobble."""
    always_on = rng.random() < 0.1
    weekend = rng.uniform(0.65, 0.9) if always_on else rng.uniform(0.2, 0.45)
    week = [1.0, 1.06, 1.06, 1.02, 0.92, weekend, weekend * 0.85]
    week = [w * 7 / sum(week) for w in week]
    wobble = [
        (rng.uniform(0.03, 0.08), rng.uniform(20, 60), rng.uniform(0, 2 * math.pi)),
        (rng.uniform(0.02, 0.06), rng.uniform(60, 150), rng.uniform(0, 2 * math.pi)),
    ]
    return Rhythm(always_on=always_on, week=week, wobble=wobble)


def holiday_factors(start: date, days: int) -> list[float]:
    """Usage halves between Christmas Eve and New Year's Day."""
    factors = []
    for t in range(days):
        d = start + timedelta(days=t)
        winter = (d.month == 12 and d.day >= 24) or (d.month == 1 and d.day == 1)
        factors.append(0.55 if winter else 1.0)
    return factors


def daily_totals(
    rng: random.Random,
    *,
    curve: Curve,
    base_q: dict[int, float],
    spike_unit: float,
    rhythm: Rhythm,
    holiday: list[float],
    sigma: float,
    dow0: int,
) -> tuple[dict[int, array[int]], dict[int, int]]:
    """Quantity per metric and local day (and the runaway job's part of the primary metric)."""
    totals: dict[int, array[int]] = {i: array("q") for i in base_q}
    spike_q: dict[int, int] = {}
    week, wobble = rhythm.week, rhythm.wobble
    for t in range(len(curve.level)):
        lv = curve.level[t] + curve.extra[t]
        if lv <= 0:
            for series in totals.values():
                series.append(0)
            continue
        wob = 1.0 + sum(a * math.sin(2 * math.pi * t / p + ph) for a, p, ph in wobble)
        common = lv * week[(dow0 + t) % 7] * holiday[t] * wob
        common *= math.exp(rng.gauss(0.0, sigma) - sigma * sigma / 2)
        for i, series in totals.items():
            q = base_q[i] * common * math.exp(rng.gauss(0.0, 0.1) - 0.005)
            series.append(int(q + 0.5))
        if t in curve.spikes:
            extra = int(curve.spikes[t] * spike_unit + 0.5)
            spike_q[t] = extra
            totals[0][t] += extra
    return totals, spike_q
