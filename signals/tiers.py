"""Service tiers: digital, scaled, strategic, from value and health, without flapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from signals.config import TierRules

ORDER = ("digital", "scaled", "strategic")


@dataclass(frozen=True, slots=True)
class TierState:
    """What the last evaluation decided, carried to the next one."""

    tier: str
    since: date
    value_tier: str  # the tier the account's value alone gives
    escalated: bool  # held above its value tier because its health fell
    healthy_since: date | None  # first day of the current run above the recovery threshold


@dataclass(frozen=True, slots=True)
class TierDecision:
    """The tier for today and, when it moved, why."""

    state: TierState
    previous: str | None
    reason: str

    @property
    def changed(self) -> bool:
        """True when the tier differs from the last evaluation's."""
        return self.previous is not None and self.previous != self.state.tier


def value_tier(value: float, current: str | None, rules: TierRules) -> str:
    """The tier an annual value earns; a tier is left only below its threshold less hysteresis."""
    thresholds = {"strategic": rules.strategic_arr, "scaled": rules.scaled_arr}
    for tier in ("strategic", "scaled"):
        line = thresholds[tier]
        keep = current is not None and ORDER.index(current) >= ORDER.index(tier)
        if value >= line or (keep and value >= line * (1 - rules.hysteresis)):
            return tier
    return "digital"


def decide_tier(
    *,
    value: float,
    health: float,
    as_of: date,
    previous: TierState | None,
    rules: TierRules,
) -> TierDecision:
    """Tier an account: by value, escalated while its health is low, with a minimum dwell."""
    base = value_tier(value, previous.value_tier if previous else None, rules)
    healthy_since = _healthy_since(health, as_of, previous, rules)
    if previous is None:
        escalated = base == "digital" and health < rules.escalate_below
        tier = "scaled" if escalated else base
        state = TierState(tier, as_of, base, escalated, healthy_since)
        return TierDecision(state, None, _first_reason(tier, value, health, escalated))
    tier, escalated, reason = _target(base, health, as_of, previous, healthy_since, rules)
    moving_down = ORDER.index(tier) < ORDER.index(previous.tier)
    if tier != previous.tier and moving_down and _dwell(previous, as_of) < rules.min_dwell_days:
        tier, escalated = previous.tier, previous.escalated
        dwell = _dwell(previous, as_of)
        reason = f"Stays {tier}: moved here {dwell} day{'s' if dwell != 1 else ''} ago"
    since = previous.since if tier == previous.tier else as_of
    state = TierState(tier, since, base, escalated, healthy_since)
    return TierDecision(state, previous.tier, reason)


def _target(
    base: str,
    health: float,
    as_of: date,
    previous: TierState,
    healthy_since: date | None,
    rules: TierRules,
) -> tuple[str, bool, str]:
    if base != "digital":
        if base != previous.tier:
            return base, False, f"Annual value now puts it in {base}"
        return base, False, f"Annual value keeps it in {base}"
    if health < rules.escalate_below:
        if previous.escalated:
            return "scaled", True, "Still escalated: health below the recovery line"
        return (
            "scaled",
            True,
            (f"Escalated to scaled: health {health:.0f} fell below {rules.escalate_below:.0f}"),
        )
    if previous.escalated:
        recovered = healthy_since is not None and (
            (as_of - healthy_since).days + 1 >= rules.recovery_days
        )
        if recovered:
            return (
                "digital",
                False,
                (
                    f"Back to digital: health above {rules.recover_above:.0f} "
                    f"for {rules.recovery_days} days"
                ),
            )
        return "scaled", True, "Escalated until health has recovered for a while"
    if previous.value_tier != "digital" or previous.tier != "digital":
        return "digital", False, "Annual value fell below the scaled threshold"
    return "digital", False, "Annual value and health keep it digital"


def _healthy_since(
    health: float, as_of: date, previous: TierState | None, rules: TierRules
) -> date | None:
    if health <= rules.recover_above:
        return None
    if previous is not None and previous.healthy_since is not None:
        return previous.healthy_since
    return as_of


def _dwell(previous: TierState, as_of: date) -> int:
    return (as_of - previous.since).days


def _first_reason(tier: str, value: float, health: float, escalated: bool) -> str:
    if escalated:
        return f"Scaled: digital by value (${value:,.0f}/yr) but health is {health:.0f}"
    return f"{tier.capitalize()} by annual value (${value:,.0f})"
