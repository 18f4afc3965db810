"""Small helpers over sparse daily series (sorted days, only active days present)."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import date, timedelta


def span(days: Sequence[date], first: date, last: date) -> tuple[int, int]:
    """Index range [lo, hi) of the days within first..last (inclusive)."""
    return bisect_left(days, first), bisect_right(days, last)


def window_sum(days: Sequence[date], values: Sequence[float], first: date, last: date) -> float:
    """Sum of the values on days first..last (inclusive)."""
    lo, hi = span(days, first, last)
    return float(sum(values[lo:hi]))


def dense(days: Sequence[date], values: Sequence[float], first: date, last: date) -> list[float]:
    """Values for every day first..last, zero where a day is absent."""
    out = [0.0] * ((last - first).days + 1)
    lo, hi = span(days, first, last)
    for i in range(lo, hi):
        out[(days[i] - first).days] += values[i]
    return out


def days_back(as_of: date, n: int) -> date:
    """The first day of the n-day window that ends on as_of."""
    return as_of - timedelta(days=n - 1)


def log_ratio(recent: float, baseline: float, *, floor: float = 1e-9) -> float:
    """log(recent / baseline), softened so that zero on either side stays finite."""
    eps = max(floor, 0.02 * max(recent, baseline))
    return math.log((recent + eps) / (baseline + eps))


def pct(ratio_log: float) -> str:
    """A log ratio as a signed percentage change, for sentences: '+25%', '-40%'."""
    change = (math.exp(ratio_log) - 1.0) * 100.0
    return f"{change:+.0f}%"


def clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    """Bound a value to [low, high]."""
    return max(low, min(high, value))


def squash(value: float, scale: float = 1.0) -> float:
    """Map any real to 0..100 around 50: 50 + 50 * tanh(value * scale)."""
    return 50.0 + 50.0 * math.tanh(value * scale)


def median(values: Sequence[float]) -> float:
    """The median (0 for an empty sequence)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2.0


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean (0 for an empty sequence)."""
    return float(sum(values)) / len(values) if values else 0.0


def stdev(values: Sequence[float]) -> float:
    """Population standard deviation (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))
