"""Consumption: trend, volatility, seasonality-aware anomalies and recency, per metric."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from signals.config import ScoringConfig, Windows
from signals.model import MetricSeries
from signals.series import days_back, dense, log_ratio, mean, median, pct, stdev, window_sum

TREND_CLIP = 3.0
ANOMALY_Z = 4.0
ANOMALY_WEEKS = 8
ECHO_PERIODS = (364, 91)  # whole weeks, so that weekdays line up
ECHO_AHEAD = 60


@dataclass(frozen=True, slots=True)
class MetricTrend:
    """One metric over the recent window against its baseline."""

    metric: str
    recent: float  # total over the recent window
    baseline: float  # average total per recent-window length over the baseline window
    log_ratio: float
    short_log_ratio: float  # the last short window, scaled, against the recent window
    weight: float  # how much it counts in the account's trend (negative: growth is bad)
    daily_mean: float
    daily_variance: float
    weekly_cv: float
    last_day: date | None


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A day far from what the same weekday usually brings."""

    metric: str
    day: date
    actual: float
    expected: float
    z: float

    @property
    def direction(self) -> str:
        """'spike' or 'drop'."""
        return "spike" if self.actual > self.expected else "drop"


@dataclass(frozen=True, slots=True)
class Consumption:
    """How an account consumes, as of one day, and why each figure is what it is."""

    as_of: date
    recent_window: tuple[date, date]
    baseline_window: tuple[date, date]
    metrics: tuple[MetricTrend, ...]
    trend: float | None  # weighted log ratio recent / baseline; None without a baseline
    short_trend: float | None
    volatility: float | None  # weighted coefficient of variation of weekly totals
    first_usage: date | None
    last_usage: date | None
    days_since_meaningful: int | None  # None when never used
    meaningful_threshold: float  # events in a day that count as meaningful usage
    anomalies: tuple[Anomaly, ...]
    recent_spend: float
    recent_events: int
    seasonal_echo: float | None = None  # log change in the 2 months after this date a period ago
    echo_period: int | None = None  # 364 (a year) or 91 (a quarter) days
    baseline_spiked: bool = False  # a week's worth of its busiest days holds over a third

    @property
    def history_days(self) -> int:
        """Days since the first usage (0 when never used)."""
        return (self.as_of - self.first_usage).days + 1 if self.first_usage else 0

    def explain(self) -> str:
        """The trend in one sentence."""
        if self.first_usage is None:
            return "No usage yet."
        if self.trend is None:
            return f"Too new for a trend: first usage {self.first_usage.isoformat()}."
        parts = ", ".join(f"{m.metric} {pct(m.log_ratio)}" for m in self.metrics if m.weight)
        return (
            f"Usage {pct(self.trend)} over the last {_len(self.recent_window)} days "
            f"against the {_len(self.baseline_window)} days before ({parts})."
        )


SPIKE_SHARE = 0.35  # the busiest 7 days' share of a baseline window that means a runaway job


def _spiked(values: Sequence[float]) -> bool:
    """A runaway job in the window: its 7 busiest days hold over SPIKE_SHARE of it.

    An ordinary window's 7 busiest of 56 days hold an eighth to a fifth of it.
    """
    total = sum(values)
    return total > 0 and sum(sorted(values)[-7:]) >= SPIKE_SHARE * total


def _len(window: tuple[date, date]) -> int:
    return (window[1] - window[0]).days + 1


def consumption(
    metrics: Sequence[MetricSeries],
    as_of: date,
    config: ScoringConfig,
    prices: Mapping[str, float] | None = None,
) -> Consumption:
    """Compute the consumption signals from daily series, using days up to as_of only."""
    w = config.windows
    prices = prices or {}
    metrics = [m for m in metrics if m.days and m.days[0] <= as_of]  # none yet: not in use
    recent_first = days_back(as_of, w.recent_days)
    base_last = recent_first - timedelta(days=1)
    base_first = days_back(base_last, w.baseline_days)
    first_usage = _first_usage(metrics, as_of)
    arrays = {m.metric: dense(m.days, m.quantity, base_first, as_of) for m in metrics}
    events = _events_total(metrics, base_first, as_of)
    shares = _shares(metrics, arrays, prices, w)
    trends = tuple(
        _metric_trend(m, arrays[m.metric], as_of, config, shares[m.metric]) for m in metrics
    )
    has_baseline = first_usage is not None and first_usage <= base_last
    full_window = first_usage is not None and first_usage <= recent_first
    threshold = _meaningful_threshold(events, w.baseline_days, w.meaningful_fraction)
    recent = slice(w.baseline_days, None)
    return Consumption(
        as_of=as_of,
        recent_window=(recent_first, as_of),
        baseline_window=(base_first, base_last),
        metrics=trends,
        trend=_combine(trends, "log_ratio") if has_baseline else None,
        short_trend=_combine(trends, "short_log_ratio") if full_window else None,
        volatility=_weighted(trends, "weekly_cv") if full_window else None,
        first_usage=first_usage,
        last_usage=_last_usage(metrics, as_of),
        days_since_meaningful=_days_since_meaningful(events, threshold, metrics, as_of),
        meaningful_threshold=threshold,
        anomalies=tuple(
            a
            for m in metrics
            for a in _anomalies(m.metric, arrays[m.metric], as_of, (m.days[0] - base_first).days)
        ),
        recent_spend=sum(sum(arrays[m][recent]) * prices.get(m, 0.0) for m in arrays),
        baseline_spiked=any(_spiked(a[: w.baseline_days]) for a in arrays.values()),
        recent_events=int(sum(events[recent])),
        **_echo(metrics, trends, as_of, first_usage),
    )


def _first_usage(metrics: Sequence[MetricSeries], as_of: date) -> date | None:
    firsts = [m.days[0] for m in metrics if m.days and m.days[0] <= as_of]
    return min(firsts) if firsts else None


def _last_usage(metrics: Sequence[MetricSeries], as_of: date) -> date | None:
    lasts = []
    for m in metrics:
        i = bisect_right(m.days, as_of)
        if i:
            lasts.append(m.days[i - 1])
    return max(lasts) if lasts else None


def _events_total(metrics: Sequence[MetricSeries], first: date, last: date) -> list[float]:
    total = [0.0] * ((last - first).days + 1)
    for m in metrics:
        for i, v in enumerate(dense(m.days, m.events, first, last)):
            total[i] += v
    return total


def _shares(
    metrics: Sequence[MetricSeries],
    arrays: Mapping[str, list[float]],
    prices: Mapping[str, float],
    w: Windows,
) -> dict[str, float]:
    """Each metric's share of the account's usage: by spend when every metric is priced.

    Only metrics used in the window share it: one last used long ago would otherwise
    count as "no change" and dilute the trend of the ones in use. A metric's spend is
    the larger of its baseline pace and its recent spend, so that a metric's fall does
    not shrink its own say in the trend (a steeper fall must never read as better).
    """
    if not metrics:
        return {}
    used = [m for m in metrics if any(arrays[m.metric])] or list(metrics)
    if all(prices.get(m.metric, 0.0) > 0 for m in used):
        spend = {m.metric: _size(arrays[m.metric], w) * prices[m.metric] for m in used}
        total = sum(spend.values())
        if total > 0:
            return {m.metric: spend.get(m.metric, 0.0) / total for m in metrics}
    names = {m.metric for m in used}
    return {m.metric: 1.0 / len(used) if m.metric in names else 0.0 for m in metrics}


def _size(values: Sequence[float], w: Windows) -> float:
    """A metric's usual recent-window total: its baseline pace or its recent total if larger."""
    base = sum(values[: w.baseline_days]) * w.recent_days / w.baseline_days
    return max(base, sum(values[w.baseline_days :]))


def _metric_trend(
    series: MetricSeries, values: list[float], as_of: date, config: ScoringConfig, share: float
) -> MetricTrend:
    w = config.windows
    base, recent = values[: w.baseline_days], values[w.baseline_days :]
    active_base = _active_span(series, as_of, len(values)) - w.recent_days
    base_len = max(1, min(w.baseline_days, active_base))
    baseline = sum(base[-base_len:]) * w.recent_days / base_len
    recent_total = sum(recent)
    short = sum(recent[-w.short_days :]) * w.recent_days / w.short_days
    used_from = len(values) - _active_span(series, as_of, len(values))
    weekly = [
        sum(values[i : i + 7]) for i in range(len(values) - 56, len(values), 7) if i >= used_from
    ]
    weekly_mean = mean(weekly)
    lo = bisect_right(series.days, as_of)
    return MetricTrend(
        metric=series.metric,
        recent=recent_total,
        baseline=baseline,
        log_ratio=_clip(log_ratio(recent_total, baseline)),
        short_log_ratio=_clip(log_ratio(short, recent_total)),
        weight=config.metric_weight(series.metric) * share,
        daily_mean=mean(recent),
        daily_variance=stdev(recent) ** 2,
        weekly_cv=stdev(weekly) / weekly_mean if weekly_mean > 0 else 0.0,
        last_day=series.days[lo - 1] if lo else None,
    )


def _active_span(series: MetricSeries, as_of: date, cap: int) -> int:
    """Days from the metric's first use to as_of, capped at the loaded window."""
    if not series.days or series.days[0] > as_of:
        return 0
    return min(cap, (as_of - series.days[0]).days + 1)


def _clip(value: float) -> float:
    return max(-TREND_CLIP, min(TREND_CLIP, value))


def _echo(
    metrics: Sequence[MetricSeries],
    trends: Sequence[MetricTrend],
    as_of: date,
    first_usage: date | None,
) -> dict[str, Any]:
    """How usage moved in the two months after this date one year (or quarter) ago.

    The month ending ECHO_AHEAD days after the date a period back, against the
    month ending on it: what seasonality alone would predict for the months ahead.
    """
    for period in ECHO_PERIODS:
        then = as_of - timedelta(days=period)
        if first_usage is None or first_usage > then - timedelta(days=27):
            continue
        after_last = then + timedelta(days=ECHO_AHEAD)
        total = sum(abs(t.weight) for t in trends)
        if total <= 0:
            return {}
        echo = 0.0
        for m, t in zip(metrics, trends, strict=True):
            before = window_sum(m.days, m.quantity, days_back(then, 28), then)
            after = window_sum(m.days, m.quantity, days_back(after_last, 28), after_last)
            echo += t.weight * _clip(log_ratio(after, before))
        return {"seasonal_echo": echo / total, "echo_period": period}
    return {}


def _combine(trends: Sequence[MetricTrend], attr: str) -> float | None:
    total = sum(abs(t.weight) for t in trends)
    if total <= 0:
        return None
    return float(sum(t.weight * getattr(t, attr) for t in trends)) / total


def _weighted(trends: Sequence[MetricTrend], attr: str) -> float | None:
    total = sum(abs(t.weight) for t in trends)
    if total <= 0:
        return None
    return float(sum(abs(t.weight) * getattr(t, attr) for t in trends)) / total


def _meaningful_threshold(events: Sequence[float], baseline_days: int, fraction: float) -> float:
    """Events a day needs to count as meaningful: a fraction of a typical active day."""
    active = [v for v in events[:baseline_days] if v > 0] or [v for v in events if v > 0]
    return max(1.0, fraction * median(active))


def _days_since_meaningful(
    events: Sequence[float], threshold: float, metrics: Sequence[MetricSeries], as_of: date
) -> int | None:
    for back, value in enumerate(reversed(events)):
        if value >= threshold:
            return back
    last = _last_usage(metrics, as_of)
    return (as_of - last).days if last else None


def _anomalies(metric: str, values: Sequence[float], as_of: date, start: int) -> list[Anomaly]:
    """Days of the last week far from the median of the same weekday in the weeks before.

    ``start`` is the index of the metric's first day of use: the days before it are
    not a weekday's usual zero, so a young account's ordinary days are not spikes.
    """
    found = []
    n = len(values)
    first = max(0, start)
    for back in range(7):
        i = n - 1 - back
        history = [values[i - 7 * k] for k in range(1, ANOMALY_WEEKS + 1) if i - 7 * k >= first]
        if len(history) < 4:
            continue
        expected = median(history)
        mad = median([abs(h - expected) for h in history]) * 1.4826
        scale = max(mad, 0.15 * expected, 1.0)
        z = (values[i] - expected) / scale
        if abs(z) >= ANOMALY_Z and abs(values[i] - expected) >= 0.5 * max(expected, 1.0):
            day = as_of - timedelta(days=back)
            found.append(Anomaly(metric, day, values[i], expected, round(z, 2)))
    return found


def percentile_rank(value: float, ordered_population: Sequence[float]) -> float:
    """Share of a sorted population below value, ties counted half: 0..1."""
    if not ordered_population:
        return 0.5
    below = bisect_left(ordered_population, value)
    equal = bisect_right(ordered_population, value) - below
    return (below + 0.5 * equal) / len(ordered_population)
