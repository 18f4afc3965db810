"""Levels and rhythm of use: recency, frequency, volume per metric, and the account's cadence.

Trends say where usage is heading; these say where it is. They carry signal on
every shape of usage: a daily product and a shop whose customers buy twice a
year alike, because recency is also read against the account's own rhythm
(its usual gap between active days).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from signals.bgnbd import BgNbd
from signals.model import MetricSeries
from signals.series import days_back, median, window_sum

WINDOWS = (7, 28, 90)
RHYTHM_DAYS = 365  # the gaps that make an account's usual rhythm


@dataclass(frozen=True, slots=True)
class Activity:
    """One account's levels of use as of a day (days on or before it only)."""

    as_of: date
    first_day: date | None  # the first active day in the history read
    last_day: date | None
    active_days: Mapping[int, int]  # window (7, 28, 90) -> days with any event
    events: Mapping[int, float]  # window -> events
    metric_events: Mapping[str, float]  # metric -> events in the last 28 days
    usual_gap: float | None  # median days between consecutive active days (None: < 2 of them)
    repeat_days: int  # active days after the first: the "repeat purchases" of BG/NBD
    p_alive: float | None = None  # BG/NBD: probability the account is still active
    expected_days: float | None = None  # BG/NBD: active days expected in the horizon
    horizon_days: int | None = None  # ... that horizon

    @property
    def days_since_last(self) -> int | None:
        """Days since the last active day (None when never active)."""
        return None if self.last_day is None else (self.as_of - self.last_day).days

    @property
    def age_days(self) -> int:
        """Days from the first active day to as_of (0 when never active)."""
        return 0 if self.first_day is None else (self.as_of - self.first_day).days

    @property
    def overdue(self) -> float | None:
        """Days since the last use over the usual gap: above 1, later than the account's rhythm."""
        since = self.days_since_last
        if since is None or self.usual_gap is None:
            return None
        return since / max(1.0, self.usual_gap)

    def explain(self) -> str:
        """Recency and frequency in one sentence."""
        since = self.days_since_last
        if since is None:
            return "Not used yet."
        when = "today" if since == 0 else f"{since} day{'s' if since != 1 else ''} ago"
        rhythm = ""
        if self.usual_gap is not None:
            rhythm = f"; usually every {_gap_words(self.usual_gap)}"
        return (
            f"Last used {when}{rhythm}; active {self.active_days[28]} of the last 28 days "
            f"and {self.active_days[90]} of the last 90."
        )


def _gap_words(gap: float) -> str:
    if gap <= 1.5:
        return "day"
    return f"{gap:.0f} days"


def activity(
    metrics: Sequence[MetricSeries],
    as_of: date,
    model: BgNbd | None = None,
    horizon_days: int = 60,
) -> Activity:
    """Compute the levels from the daily series, using days up to as_of only."""
    metrics = [m for m in metrics if m.days and m.days[0] <= as_of]  # none yet: not in use
    days = _active_days(metrics, as_of)
    first_day = days[0] if days else None
    last_day = days[-1] if days else None
    active = {w: len(days) - bisect_right(days, as_of - timedelta(days=w)) for w in WINDOWS}
    events = {
        w: float(sum(window_sum(m.days, m.events, days_back(as_of, w), as_of) for m in metrics))
        for w in WINDOWS
    }
    per_metric = {
        m.metric: window_sum(m.days, m.events, days_back(as_of, 28), as_of) for m in metrics
    }
    recent = days[bisect_right(days, as_of - timedelta(days=RHYTHM_DAYS)) :]
    gaps = [float((b - a).days) for a, b in pairwise(recent)]
    usual_gap = median(gaps) if gaps else None
    repeat = max(0, len(days) - 1)
    p_alive = expected = None
    if model is not None and first_day is not None and last_day is not None:
        t_x, t = float((last_day - first_day).days), float((as_of - first_day).days)
        p_alive = model.p_alive(repeat, t_x, t)
        expected = model.expected(horizon_days, repeat, t_x, t)
    return Activity(
        as_of=as_of,
        first_day=first_day,
        last_day=last_day,
        active_days=active,
        events=events,
        metric_events=per_metric,
        usual_gap=usual_gap,
        repeat_days=repeat,
        p_alive=p_alive,
        expected_days=expected,
        horizon_days=horizon_days if model is not None else None,
    )


def _active_days(metrics: Sequence[MetricSeries], as_of: date) -> list[date]:
    """Sorted days on or before as_of with activity of any metric (series hold only those)."""
    slices = [m.days[: bisect_right(m.days, as_of)] for m in metrics]
    if len(slices) == 1:
        return list(slices[0])
    return sorted(set().union(*slices))
