"""The health score: a weighted composite of explainable components, and what moved it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from signals.config import ScoringConfig
from signals.features import AccountFeatures
from signals.series import clamp, squash
from signals.words import counts_now, last_seen, percent, points_move

CRITICAL = ("usage_trend", "activity")
SUMMARY = "outlook"  # the churn model's view: it sums up the causes, it is not one of them

LABELS = {
    "usage_trend": "Usage trend",
    "activity": "Recent activity",
    "adoption": "Breadth of adoption",
    "commit_pace": "Commit pace",
    "support": "Support load",
    "outcomes": "Success rate",
    "stability": "Steadiness",
    "peer": "Standing among peers",
    "outlook": "Likelihood to stay",
}


@dataclass(frozen=True, slots=True)
class Component:
    """One part of the health score: its 0-100 score, weight and the sentence behind it."""

    name: str
    score: float | None  # None: does not apply to this account (its weight is shared out)
    weight: float  # share of the score, after missing components are left out
    detail: str

    @property
    def label(self) -> str:
        """The component's name for people."""
        return LABELS.get(self.name, self.name)

    @property
    def contribution(self) -> float:
        """Points this component adds to (or, below 50, takes from) a neutral 50."""
        return 0.0 if self.score is None else self.weight * (self.score - 50.0)


@dataclass(frozen=True, slots=True)
class Health:
    """The composite score and its band."""

    score: float
    band: str
    components: tuple[Component, ...]
    capped_by: str | None = None  # a usage component so weak that it holds the score down

    def component(self, name: str) -> Component | None:
        """Find a component by name."""
        return next((c for c in self.components if c.name == name), None)

    def _causes(self) -> list[Component]:
        return [c for c in self.components if c.score is not None and c.name != SUMMARY]

    def risks(self, n: int = 3) -> list[Component]:
        """The components pulling the score down most."""
        low = [c for c in self._causes() if c.contribution < -1.0]
        return sorted(low, key=lambda c: c.contribution)[:n]

    def strengths(self, n: int = 3) -> list[Component]:
        """The components holding the score up most."""
        high = [c for c in self._causes() if c.contribution > 1.0]
        return sorted(high, key=lambda c: -c.contribution)[:n]


def component_scores(
    f: AccountFeatures, churn_risk: float | None = None
) -> dict[str, tuple[float | None, str]]:
    """Each component's 0-100 score (None when it does not apply) and its explanation."""
    c, a, s, v = f.consumption, f.adoption, f.support, f.value
    gap = f.activity.usual_gap
    out: dict[str, tuple[float | None, str]] = {
        "usage_trend": (None if c.trend is None else squash(c.trend), c.explain()),
        "activity": (
            _activity(c.days_since_meaningful, _onboarding(f), gap),
            _activity_text(f),
        ),
        "adoption": (_adoption(a.breadth_trend, a.stickiness), a.explain()),
        "support": (clamp(100 - 15 * s.load - (20 if s.low_csat else 0)), s.explain()),
    }
    fc = f.commit
    pace_applies = fc is not None and fc.status not in ("ended", "no_prices", "no_commit")
    pace = clamp((fc.projected_utilization - 0.3) / 0.6 * 100) if fc and pace_applies else None
    out["commit_pace"] = (pace, fc.explain() if fc else "No commit contract.")
    rate = v.success_rate
    out["outcomes"] = (
        None if rate is None else clamp((rate - 0.5) / 0.45 * 100),
        f"{rate:.0%} of judged outcomes succeeded in the last {f.adoption.window_days} days."
        if rate is not None
        else "No success or failure reported on events.",
    )
    vol = c.volatility
    out["stability"] = (
        None if vol is None or c.history_days < 56 else 100 * math.exp(-vol),
        f"Week-to-week variation {vol:.0%} over 8 weeks." if vol is not None else "No usage.",
    )
    pp = f.peer_percentile
    out["peer"] = (
        None if pp is None else 100 * pp,
        f"Uses more than {pp:.0%} of its segment ({f.account.segment or 'no segment'})."
        if pp is not None
        else "Too few peers in its segment to compare.",
    )
    out["outlook"] = (
        None if churn_risk is None else 100 * (1 - churn_risk),
        f"Churn risk {percent(churn_risk)} over the next {_horizon(f)} days."
        if churn_risk is not None
        else "No churn estimate.",
    )
    return out


def _horizon(f: AccountFeatures) -> int:
    return f.activity.horizon_days or 60


def _activity(days: int | None, onboarding: bool, usual_gap: float | None = None) -> float:
    """100 while the last use is within the account's rhythm, then falling week by week.

    The rhythm is its usual gap between active days (at least 3 days): a quiet
    week is alarming for a daily product, and nothing for a monthly buyer.
    """
    if days is None:
        return 50.0 if onboarding else 0.0
    grace = max(3.0, usual_gap or 3.0)
    return 100.0 if days <= grace else 100 * math.exp(-(days - grace) / max(7.0, grace))


def _onboarding(f: AccountFeatures) -> bool:
    """Not used yet, but still within the target days to first value."""
    milestone = f.ttv.first_value
    return milestone is None or (milestone.reached is None and not milestone.missed)


def _activity_text(f: AccountFeatures) -> str:
    days = f.consumption.days_since_meaningful
    if days is None:
        fv = f.ttv.first_value
        return fv.explain() if fv is not None else "Not used yet."
    return last_seen(days, on=f.as_of - timedelta(days=days), as_of=f.as_of) + "."


def _adoption(breadth: float | None, stickiness: float | None) -> float | None:
    if breadth is None and stickiness is None:
        return None
    parts = []
    if breadth is not None:
        parts.append((0.7, squash(breadth, 1.5)))
    if stickiness is not None:
        parts.append((0.3, min(100.0, stickiness / 0.4 * 100)))
    total = sum(w for w, _ in parts)
    return sum(w * s for w, s in parts) / total


def health(f: AccountFeatures, config: ScoringConfig, churn_risk: float | None = None) -> Health:
    """Weigh the components into a 0-100 score and band, for the account's segment.

    ``churn_risk`` (the model's probability) makes the "Likelihood to stay" component.
    """
    weights = config.weights_for(f.account.segment)
    scores = component_scores(f, churn_risk)
    present = {
        n: w for n, w in weights.items() if w > 0 and scores.get(n, (None, ""))[0] is not None
    }
    total = sum(present.values())
    components = tuple(
        Component(n, scores[n][0], present.get(n, 0.0) / total if total else 0.0, scores[n][1])
        for n in weights
        if n in scores
    )
    score = sum(c.weight * c.score for c in components if c.score is not None) if total else 50.0
    bands = config.bands_for(f.account.segment)
    capped_by = _weakest_critical(components)
    if capped_by is not None and capped_by.score is not None:
        score = min(score, capped_by.score + bands.critical_margin)
        if score < capped_by.score + bands.critical_margin:
            capped_by = None
    score = round(clamp(score), 1)
    return Health(score, bands.band(score), components, capped_by.name if capped_by else None)


def _weakest_critical(components: Sequence[Component]) -> Component | None:
    critical = [c for c in components if c.name in CRITICAL and c.score is not None and c.weight]
    return min(critical, key=lambda c: (c.score or 0.0, c.name)) if critical else None


@dataclass(frozen=True, slots=True)
class Mover:
    """A component whose change moved the score since the earlier evaluation."""

    name: str
    before: float | None
    after: float | None
    points: float  # effect on the score

    def words(self) -> str:
        """The move in a sentence: 'Usage trend cost 6.0 points'."""
        label = LABELS.get(self.name, self.name)
        if self.before is None or self.after is None:
            return counts_now(label) if self.before is None else f"{label} no longer counts"
        return points_move(label, self.points)


def movers(
    now: Health, before: Mapping[str, float | None], n: int = 3, minimum: float = 0.5
) -> list[Mover]:
    """The components that moved the score most since an earlier evaluation."""
    out = []
    for c in now.components:
        prev = before.get(c.name)
        if c.score is None or prev is None:
            continue
        points = c.weight * (c.score - prev)
        if abs(points) >= minimum:
            out.append(Mover(c.name, prev, c.score, points))
    return sorted(out, key=lambda m: -abs(m.points))[:n]
