"""Score a whole book for one day: peers, health, risks, tiers and alerts, explained."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from signals.alerts import Alert, flags, renewal_day, transitions
from signals.config import ScoringConfig
from signals.consumption import percentile_rank
from signals.features import AccountFeatures
from signals.health import Health, Mover, health, movers
from signals.model import Snapshot
from signals.risk import RiskScore, feature_vector, predict
from signals.tiers import TierDecision, TierState, decide_tier
from signals.words import score_change

MIN_PEERS = 5
NOTABLE_CHANGE = 5.0  # points in a week that earn a place among the reasons


@dataclass(frozen=True, slots=True)
class AccountSignals:
    """Everything Steward says about one account on one day."""

    features: AccountFeatures
    health: Health
    churn: RiskScore
    expansion: RiskScore
    tier: TierDecision
    flags: Mapping[str, str]
    alerts: tuple[Alert, ...]
    week_ago: float | None
    movers: tuple[Mover, ...]

    @property
    def account_id(self) -> str:
        """The account's id."""
        return self.features.account.id

    @property
    def change(self) -> float | None:
        """Points gained (or lost) since the evaluation a week earlier."""
        return None if self.week_ago is None else round(self.health.score - self.week_ago, 1)

    def reasons(self, n: int = 3) -> list[str]:
        """The sentences that best explain the score: what pulls it down, then what holds it up."""
        risks = [f"{c.label}: {c.detail}" for c in self.health.risks(n)]
        capped = self.health.component(self.health.capped_by or "")
        if capped is not None:
            note = f"{capped.label} holds the score down: {capped.detail}"
            risks = [note] + [r for r in risks if not r.startswith(capped.label + ":")]
        strengths = [f"{c.label}: {c.detail}" for c in self.health.strengths(n)]
        week = self._week()
        falls = [w for w in week if w.startswith("-")]  # a fall explains a weak score
        rises = [w for w in week if w.startswith("+")]  # a rise is not why it needs a human
        return (falls + risks + rises + strengths)[:n]

    def _week(self) -> list[str]:
        """The week's change and what moved it most in the same direction."""
        change = self.change
        if change is None or abs(change) < NOTABLE_CHANGE:
            return []
        same_way = [m for m in self.movers if (m.points > 0) == (change > 0)]
        return [score_change(change, same_way[0].words())] if same_way else []


def peer_percentiles(features: Sequence[AccountFeatures]) -> list[float | None]:
    """Each account's usage standing within its segment (None with too few peers)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(features):
        if f.consumption.first_usage is not None:
            groups[f.account.segment or ""].append(i)
    out: list[float | None] = [None] * len(features)
    for members in groups.values():
        if len(members) < MIN_PEERS:
            continue
        by_spend = sum(1 for i in members if features[i].consumption.recent_spend > 0)
        use_spend = by_spend >= 0.8 * len(members)
        volume = [_volume(features[i], use_spend) for i in members]
        ordered = sorted(volume)
        for i, v in zip(members, volume, strict=True):
            out[i] = percentile_rank(v, ordered)
    return out


def _volume(f: AccountFeatures, use_spend: bool) -> float:
    return f.consumption.recent_spend if use_spend else float(f.consumption.recent_events)


def score_book(
    features: Sequence[AccountFeatures],
    config: ScoringConfig,
    *,
    previous: Mapping[str, Snapshot] | None = None,
    week_ago: Mapping[str, Snapshot] | None = None,
) -> list[AccountSignals]:
    """Score every account of a book for the same day.

    Args:
        features: per-account features, all for the same as_of day.
        config: weights, thresholds and models.
        previous: each account's latest earlier snapshot (tiers and alerts build on it).
        week_ago: each account's snapshot from a week earlier (for the change and movers).
    """
    previous = previous or {}
    week_ago = week_ago or {}
    peers = peer_percentiles(features)
    return [
        score_account(
            f.with_peer(p), config, previous.get(f.account.id), week_ago.get(f.account.id)
        )
        for f, p in zip(features, peers, strict=True)
    ]


def score_account(
    f: AccountFeatures,
    config: ScoringConfig,
    previous: Snapshot | None = None,
    week_ago: Snapshot | None = None,
) -> AccountSignals:
    """Score one account whose peer standing is known."""
    vector = feature_vector(f)
    churn = predict(config.churn_model, vector)
    h = health(f, config, churn.probability)
    prior = tier_state(previous)
    tier = decide_tier(
        value=f.annual_value, health=h.score, as_of=f.as_of, previous=prior, rules=config.tiers
    )
    before = week_ago.score if week_ago else None
    now = flags(
        f,
        h.score,
        before,
        config.alerts,
        band=h.band,
        churn_risk=churn.probability,
        held=previous.flags if previous else (),
    )
    tier_text = None
    if tier.changed:
        tier_text = f"{tier.previous} -> {tier.state.tier}: {tier.reason}."
    alerts = transitions(f, now, previous.flags if previous else None, tier_text)
    moved = coherent(movers(h, week_ago.components), f, config) if week_ago else []
    return AccountSignals(
        features=f,
        health=h,
        churn=churn,
        expansion=predict(config.expansion_model, vector),
        tier=tier,
        flags=now,
        alerts=tuple(alerts),
        week_ago=before,
        movers=tuple(moved),
    )


def tier_state(snapshot: Snapshot | None) -> TierState | None:
    """The tier state an earlier snapshot recorded."""
    if snapshot is None:
        return None
    detail = snapshot.detail.get("tier")
    info: Mapping[str, Any] = detail if isinstance(detail, Mapping) else {}
    healthy = info.get("healthy_since")
    return TierState(
        tier=snapshot.tier,
        since=snapshot.tier_since,
        value_tier=str(info.get("value_tier", snapshot.tier)),
        escalated=bool(info.get("escalated", False)),
        healthy_since=date.fromisoformat(healthy) if isinstance(healthy, str) else None,
    )


def to_snapshot(s: AccountSignals) -> Snapshot:
    """What is stored of an evaluation: figures, flags, reasons and the explanation."""
    f, state = s.features, s.tier.state
    return Snapshot(
        account_id=s.account_id,
        day=f.as_of,
        score=s.health.score,
        band=s.health.band,
        churn_risk=round(s.churn.probability, 4),
        expansion_likelihood=round(s.expansion.probability, 4),
        tier=state.tier,
        tier_since=state.since,
        exhaustion_date=f.commit.exhaustion_date if f.commit else None,
        projected_month_spend=round(f.spend.projected, 2) if f.spend else None,
        components={c.name: _round(c.score) for c in s.health.components},
        flags=tuple(sorted(s.flags)),
        reasons=tuple(s.reasons()),
        detail=_detail(s),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def coherent(moved: Sequence[Mover], f: AccountFeatures, config: ScoringConfig) -> list[Mover]:
    """The moves that agree with what the same card says about the account.

    No "breadth of adoption added points" beside fewer active users, and no
    steadiness or breadth gain for an account whose usage collapsed or stopped:
    steady at nothing is not good news.
    """
    rules = config.alerts
    c, a = f.consumption, f.adoption
    collapsed = (c.trend is not None and c.trend <= math.log(1 - rules.usage_drop_fraction)) or (
        c.days_since_meaningful is not None and c.days_since_meaningful >= rules.inactive_days
    )
    fewer = (a.has_users and a.active_users < a.previous_users) or (
        a.breadth_trend is not None and a.breadth_trend < 0
    )
    out = []
    for m in moved:
        if m.points > 0 and m.name == "adoption" and fewer:
            continue
        if m.points > 0 and collapsed and m.name in ("stability", "adoption", "usage_trend"):
            continue
        out.append(m)
    return out


def _stakes(f: AccountFeatures) -> dict[str, object]:
    """What is at stake in money and time: what digests rank their lines by."""
    fc, sp = f.commit, f.spend
    renewal = renewal_day(f)
    commit_money = 0.0
    if fc is not None and fc.state == "under_use":
        commit_money = fc.committed * max(0.0, 1.0 - fc.projected_utilization)  # left unused
    elif fc is not None and fc.state in ("runs_out_early", "overage"):
        commit_money = fc.committed * max(0.0, fc.projected_utilization - 1.0)  # past it
    month_excess = 0.0
    if sp is not None and sp.bill_shock:
        month_excess = sp.projected - max(sp.baseline or 0.0, sp.budget or 0.0)
    return {
        "arr": round(f.annual_value, 2),
        "renewal": renewal.isoformat() if renewal else None,
        "commit_state": fc.state if fc else "",
        "commit_money": round(commit_money, 2),
        "month_excess": round(month_excess, 2),
    }


def _detail(s: AccountSignals) -> dict[str, object]:
    f, state = s.features, s.tier.state
    return {
        "components": [
            {
                "name": c.name,
                "score": _round(c.score),
                "weight": round(c.weight, 3),
                "why": c.detail,
            }
            for c in s.health.components
        ],
        "churn_drivers": s.churn.top(5),
        "expansion_drivers": s.expansion.top(5),
        "commit": f.commit.explain() if f.commit else None,
        "spend": f.spend.explain() if f.spend else None,
        "stakes": _stakes(f),
        "time_to_value": [m.explain() for m in f.ttv.milestones],
        "value": f.value.explain(),
        "movers": [m.words() for m in s.movers],
        "flags": dict(s.flags),
        "anomalies": [
            {
                "metric": a.metric,
                "day": a.day.isoformat(),
                "actual": round(a.actual, 2),
                "expected": round(a.expected, 2),
                "direction": a.direction,
            }
            for a in f.consumption.anomalies
        ],
        "alerts": [
            {
                "kind": a.kind,
                "key": a.key,
                "severity": a.severity,
                "owner": a.owner,
                "owner_role": a.owner_role,
                "title": a.title,
                "evidence": a.evidence,
                "resolved": a.resolved,
            }
            for a in s.alerts
        ],
        "tier": {
            "value_tier": state.value_tier,
            "escalated": state.escalated,
            "healthy_since": state.healthy_since.isoformat() if state.healthy_since else None,
            "reason": s.tier.reason,
        },
    }
