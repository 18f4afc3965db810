"""Churn risk and expansion likelihood: explainable logistic models over named features."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from signals.features import AccountFeatures

METRIC_PREFIX = "metric:"  # a metric's trend (log ratio of the last 28 days to its baseline)
LEVEL_PREFIX = "level:"  # a metric's level (log of its events in the last 28 days)

FEATURE_LABELS: dict[str, tuple[str, str]] = {
    # name: (what a rise means, what a fall means) in words a CSM would use
    "trend": ("usage is growing", "usage is falling"),
    "short_trend": ("the last week is above the month", "the last week is below the month"),
    "inactive_days": ("days without meaningful usage", "recent meaningful usage"),
    "breadth_trend": ("more users, features and teams", "fewer users, features and teams"),
    "stickiness": ("users come back often (DAU/MAU)", "users rarely come back (DAU/MAU)"),
    "commit_gap": ("on course to use more than the commit", "on course to under-use the commit"),
    "support_load": ("heavy support load", "light support load"),
    "low_csat": ("low satisfaction on recent tickets", "good satisfaction on recent tickets"),
    "success_rate": ("a high success rate", "a low success rate"),
    "volatility": ("erratic week-to-week usage", "steady week-to-week usage"),
    "peer": ("uses more than segment peers", "uses less than segment peers"),
    "tenure": ("a long-standing customer", "a new customer"),
    "new_use_case": ("a new use case or team", "no new use case"),
    "seasonal_echo": (
        "usage rose in the same season last period",
        "usage fell in the same season last period",
    ),
    "recency": ("a long time since the last use", "used recently"),
    "overdue": ("quiet for longer than its usual rhythm", "active on its usual rhythm"),
    "active_days_7": ("active on most of the last 7 days", "active on few of the last 7 days"),
    "active_days_28": ("active on most of the last 28 days", "active on few of the last 28 days"),
    "active_days_90": ("active on most of the last 90 days", "active on few of the last 90 days"),
    "events_28": ("high volume in the last 28 days", "low volume in the last 28 days"),
    "events_90": ("high volume in the last 90 days", "low volume in the last 90 days"),
    "p_gone": (
        "its pattern of use suggests it has stopped (BG/NBD)",
        "its pattern of use suggests it is still active (BG/NBD)",
    ),
    "expected_activity": (
        "much activity expected ahead (BG/NBD)",
        "little activity expected ahead (BG/NBD)",
    ),
}


def feature_vector(f: AccountFeatures) -> dict[str, float]:
    """The named, scaled inputs of the risk models (0 means typical or unknown)."""
    c, a, s = f.consumption, f.adoption, f.support
    inactive = c.days_since_meaningful if c.first_usage else _idle_before_first_use(f)
    stickiness = a.stickiness
    rate = f.value.success_rate
    vector = {
        "trend": c.trend or 0.0,
        "short_trend": c.short_trend or 0.0,
        "inactive_days": math.log1p(max(0, inactive - 3)) if inactive is not None else 0.0,
        "breadth_trend": a.breadth_trend or 0.0,
        "stickiness": 5 * (stickiness - 0.2) if stickiness is not None else 0.0,
        "commit_gap": _commit_gap(f),
        "support_load": math.log1p(s.load),
        "low_csat": 1.0 if s.low_csat else 0.0,
        "success_rate": 5 * (rate - 0.85) if rate is not None else 0.0,
        "volatility": min(3.0, c.volatility or 0.0),
        "peer": 2 * (f.peer_percentile - 0.5) if f.peer_percentile is not None else 0.0,
        "tenure": math.log1p(c.history_days / 30) - 1.0,
        "new_use_case": 1.0 if a.new_features or a.new_teams else 0.0,
        "seasonal_echo": c.seasonal_echo or 0.0,
    }
    for m in c.metrics:
        vector[METRIC_PREFIX + m.metric] = m.log_ratio
    vector.update(level_vector(f))
    return vector


def level_vector(f: AccountFeatures) -> dict[str, float]:
    """Recency, frequency and volume (per metric too), and BG/NBD's view where fitted.

    Frequency and volume are per day observed: an account 40 days old that was
    active on 30 of them reads 0.75, like a year-old one active 68 of the last 90
    days, so a short history is not mistaken for low use (nor for tenure).
    """
    act = f.activity
    since = act.days_since_last
    seen = act.age_days + 1

    def share(window: int) -> float:
        return act.active_days[window] / min(window, seen)

    def volume(events: float, window: int) -> float:
        return math.log1p(events * window / min(window, seen))

    out = {
        "active_days_7": share(7),
        "active_days_28": share(28),
        "active_days_90": share(90),
        "events_28": volume(act.events[28], 28),
        "events_90": volume(act.events[90], 90),
    }
    if since is not None:
        out["recency"] = math.log1p(since)
    overdue = act.overdue
    if overdue is not None:
        out["overdue"] = math.log1p(min(overdue, 100.0))
    if act.p_alive is not None:
        out["p_gone"] = 1.0 - act.p_alive
    if act.expected_days is not None:
        out["expected_activity"] = math.log1p(act.expected_days)
    for metric, events in act.metric_events.items():
        out[LEVEL_PREFIX + metric] = volume(events, 28)
    return out


def _idle_before_first_use(f: AccountFeatures) -> int | None:
    """An account never used: idle since its start once its time to value has passed.

    Still within the target days to first value (or with no start known), it is
    onboarding, and not idle.
    """
    milestone = f.ttv.first_value
    if milestone is None or not milestone.missed:
        return None
    return milestone.elapsed_days


def _commit_gap(f: AccountFeatures) -> float:
    fc = f.commit
    if fc is None or fc.status in ("ended", "no_prices", "no_commit"):
        return 0.0
    return max(-1.0, min(1.0, fc.projected_utilization - 1.0))


@dataclass(frozen=True, slots=True)
class Driver:
    """One feature's push on a risk, in log-odds, with its words."""

    feature: str
    value: float
    contribution: float

    def words(self) -> str:
        """What this driver means, e.g. 'usage is falling'."""
        if self.feature.startswith(METRIC_PREFIX):
            metric = self.feature.removeprefix(METRIC_PREFIX)
            return f"{metric} {'rising' if self.value > 0 else 'falling'}"
        if self.feature.startswith(LEVEL_PREFIX):
            metric = self.feature.removeprefix(LEVEL_PREFIX)
            return f"{'much' if self.contribution > 0 else 'little'} {metric} in the last 28 days"
        rise, fall = FEATURE_LABELS.get(self.feature, (self.feature, self.feature))
        return rise if self.value > 0 else fall


@dataclass(frozen=True, slots=True)
class RiskScore:
    """A probability-like figure with the drivers behind it, strongest first."""

    probability: float
    drivers: tuple[Driver, ...]

    def top(self, n: int = 3) -> list[str]:
        """The drivers that raise it most, in words."""
        return [d.words() for d in self.drivers if d.contribution > 0.05][:n]


def logit(model: Mapping[str, float], vector: Mapping[str, float]) -> float:
    """The model's log-odds for a feature vector (ranks without the sigmoid's rounding)."""
    total = model.get("intercept", 0.0)
    for name, coef in model.items():
        if name != "intercept" and coef:
            total += coef * vector.get(name, 0.0)
    return total


def predict(model: Mapping[str, float], vector: Mapping[str, float]) -> RiskScore:
    """Apply a logistic model to a feature vector."""
    logit = model.get("intercept", 0.0)
    drivers = []
    for name, coef in model.items():
        if name == "intercept" or not coef:
            continue
        value = vector.get(name, 0.0)
        logit += coef * value
        if value:
            drivers.append(Driver(name, value, coef * value))
    drivers.sort(key=lambda d: (-d.contribution, d.feature))
    return RiskScore(_sigmoid(logit), tuple(drivers))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
