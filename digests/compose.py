"""Compose a digest from one day's evaluations: pure, snapshots in, a Card out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from core.messages import Card, Fact, Section
from signals.alerts import kind_of
from signals.model import Snapshot

PER_SECTION = 5
EXPANSION_LINE = 0.5  # expansion likelihood that makes an account "ready to expand"


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One list of the digest: which accounts, in what order, with which sentence."""

    title: str
    pick: Callable[[Snapshot], bool]
    order: Callable[[Snapshot], float]
    why: Callable[[Snapshot], str]


def _has(snapshot: Snapshot, *kinds: str) -> bool:
    return any(kind_of(flag) in kinds for flag in snapshot.flags)


def _flag_text(snapshot: Snapshot, *kinds: str) -> str:
    texts = snapshot.explained("flags") or {}
    for flag in snapshot.flags:
        if kind_of(flag) in kinds and flag in texts:
            return str(texts[flag])
    return snapshot.reasons[0] if snapshot.reasons else ""


def _first_reason(snapshot: Snapshot) -> str:
    return snapshot.reasons[0] if snapshot.reasons else f"health {snapshot.score:.0f}"


def _drivers(snapshot: Snapshot) -> str:
    drivers = snapshot.explained("expansion_drivers") or []
    text = ", ".join(str(d) for d in drivers[:2]) or _flag_text(snapshot, "commit_early")
    return f"{snapshot.expansion_likelihood:.0%} likely; {text}"


SECTIONS = (
    DigestSection(
        "Renewals at risk",
        lambda s: _has(s, "renewal_risk"),
        lambda s: -s.churn_risk,
        lambda s: _flag_text(s, "renewal_risk"),
    ),
    DigestSection(
        "Needs attention",
        lambda s: s.band == "at risk" or _has(s, "health_drop", "usage_drop", "inactive"),
        lambda s: s.score,
        _first_reason,
    ),
    DigestSection(
        "Ready to expand",
        lambda s: s.expansion_likelihood >= EXPANSION_LINE or _has(s, "new_use_case"),
        lambda s: -s.expansion_likelihood,
        _drivers,
    ),
    DigestSection(
        "Commits under-used",
        lambda s: _has(s, "commit_under_use"),
        lambda s: s.score,
        lambda s: _flag_text(s, "commit_under_use"),
    ),
    DigestSection(
        "Commits to expand",  # runs out early or in overage: the AE's news, never a problem
        lambda s: _has(s, "commit_early", "commit_overage"),
        lambda s: s.exhaustion_date.toordinal() if s.exhaustion_date else 10**7,
        lambda s: _flag_text(s, "commit_overage", "commit_early"),
    ),
    DigestSection(
        "Bill-shock risk",
        lambda s: _has(s, "bill_shock"),
        lambda s: -(s.projected_month_spend or 0.0),
        lambda s: _flag_text(s, "bill_shock"),
    ),
)


def needs_human(snapshot: Snapshot) -> bool:
    """A renewal at risk or an account that needs attention: the digest's first two sections."""
    return any(spec.pick(snapshot) for spec in SECTIONS[:2])


def compose_digest(
    day: date,
    snapshots: Sequence[Snapshot],
    names: Mapping[str, str],
    *,
    title: str,
    notes: Mapping[str, str] | None = None,
) -> Card:
    """The digest of one day: what needs attention, what can grow, tier moves and wins.

    ``notes`` add a word to an account's lines: who acknowledged or took its alerts,
    or until when they are snoozed.
    """
    notes = notes or {}
    bands = Counter(s.band for s in snapshots)
    sections = [Section(facts=_overview(len(snapshots), bands))]
    for spec in SECTIONS:
        chosen = sorted((s for s in snapshots if spec.pick(s)), key=spec.order)
        if chosen:
            sections.append(_section(spec.title, chosen, names, spec.why, notes))
    moves = [s for s in snapshots if _alert_titles(s, lambda a: a.get("kind") == "tier_change")]
    if moves:
        sections.append(_section("Tier moves", moves, names, _tier_reason, notes))
    wins = [s for s in snapshots if _wins(s)]
    if wins:
        sections.append(_section("Wins", wins, names, _win_text, notes))
    attention = sum(1 for s in snapshots if needs_human(s))
    summary = (
        f"{title}: {attention} accounts need attention, "
        f"{bands.get('healthy', 0)} of {len(snapshots)} are healthy."
    )
    return Card(
        title=title,
        summary=summary,
        sections=tuple(sections),
        footer=f"Health as scored on {day}. Type /health <account> for any line.",
    )


def _overview(total: int, bands: Counter[str]) -> tuple[Fact, ...]:
    return (
        Fact("Accounts", f"{total:,}"),
        Fact("Healthy", f"{bands.get('healthy', 0):,}"),
        Fact("Watch", f"{bands.get('watch', 0):,}"),
        Fact("At risk", f"{bands.get('at risk', 0):,}"),
    )


def _section(
    title: str,
    chosen: Sequence[Snapshot],
    names: Mapping[str, str],
    why: Callable[[Snapshot], str],
    notes: Mapping[str, str],
) -> Section:
    items = []
    for s in chosen[:PER_SECTION]:
        name = names.get(s.account_id, s.account_id)
        note = f" [{notes[s.account_id]}]" if s.account_id in notes else ""
        items.append(f"{name} ({s.score:.0f}): {why(s)}{note} → /health {name}")
    if len(chosen) > PER_SECTION:
        items.append(f"…and {len(chosen) - PER_SECTION} more ({len(chosen)} in all)")
    return Section(title=f"{title} ({len(chosen)})", items=tuple(items))


def _tier_reason(snapshot: Snapshot) -> str:
    reason = (snapshot.explained("tier") or {}).get("reason") or ""
    return f"now {snapshot.tier}" + (f": {reason}" if reason else "")


def _alert_titles(snapshot: Snapshot, pick: Callable[[Mapping[str, object]], bool]) -> list[str]:
    alerts = snapshot.explained("alerts") or []
    return [str(a.get("title")) for a in alerts if pick(a)]


def _wins(snapshot: Snapshot) -> bool:
    return bool(_alert_titles(snapshot, lambda a: bool(a.get("resolved"))))


def _win_text(snapshot: Snapshot) -> str:
    return "resolved: " + ", ".join(_alert_titles(snapshot, lambda a: bool(a.get("resolved"))))
