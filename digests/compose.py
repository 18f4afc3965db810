"""Compose a digest from one day's evaluations: pure, snapshots in, a Card out.

An attention budget: each section leads with the accounts that need a human today,
ranked by expected impact (ARR x risk, days to renewal, money at stake), shows at
most ``PER_SECTION`` of them with what to do next, and points to the command that
lists the rest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from core.messages import Button, ButtonValue, Card, Fact, Section
from signals.alerts import kind_of
from signals.model import Snapshot
from signals.words import listing, percent

PER_SECTION = 5
EXPANSION_LINE = 0.5  # expansion likelihood that makes an account "ready to expand"
RENEWAL_URGENT_DAYS = 30  # a renewal this close counts in full; later ones less


CLICKABLE = frozenset({"slack", "teams"})  # platforms whose digest lines open the account


def details_button(account_id: str, label: str = "Details") -> Button:
    """Open the account's /health details (privately, for whoever clicks)."""
    return Button(label, "details", ButtonValue("health", account_id).encode())


def account_line(text: str, account_id: str, name: str, platform: str) -> tuple[str, Button | None]:
    """A digest line about one account and what clicking it opens: on Slack and Teams the
    line itself opens the account; elsewhere it ends with the command to type."""
    if platform in CLICKABLE:
        return text, details_button(account_id)
    return f"{text} → {command(platform, '/health')} {name}", None


def command(platform: str, words: str) -> str:
    """A command as the reader types it: "/steward risks" on Slack, "@Steward risks" on Teams.

    ``words`` is the Slack form ("/health Acme", "/steward risks").
    """
    if platform != "teams":
        return words
    return "@Steward " + words.removeprefix("/steward ").removeprefix("/")


@dataclass(frozen=True, slots=True)
class DigestSection:
    """One list of the digest: which accounts, how much each matters, what to say and do."""

    title: str
    pick: Callable[[Snapshot], bool]
    impact: Callable[[Snapshot], float]  # expected impact: the highest comes first
    why: Callable[[Snapshot], str]
    next_step: Callable[[Snapshot], str]
    more: str  # the command that lists the rest ("/steward risks")
    problem: bool = True  # a problem to solve (False: an opportunity or good news)


def _has(snapshot: Snapshot, *kinds: str) -> bool:
    return any(kind_of(flag) in kinds for flag in snapshot.flags)


def _flag_text(snapshot: Snapshot, *kinds: str) -> str:
    texts = snapshot.explained("flags") or {}
    for kind in kinds:
        for flag in snapshot.flags:
            if kind_of(flag) == kind and flag in texts:
                return str(texts[flag])
    return snapshot.reasons[0] if snapshot.reasons else ""


def _stake(snapshot: Snapshot, key: str) -> float:
    stakes = snapshot.explained("stakes") or {}
    value = stakes.get(key) if isinstance(stakes, Mapping) else None
    return float(value) if isinstance(value, int | float) else 0.0


def _renewal_days(snapshot: Snapshot) -> int | None:
    stakes = snapshot.explained("stakes") or {}
    day = stakes.get("renewal") if isinstance(stakes, Mapping) else None
    if not isinstance(day, str):
        return None
    return (date.fromisoformat(day) - snapshot.day).days


def _arr(snapshot: Snapshot) -> float:
    return max(_stake(snapshot, "arr"), 1.0)  # without a value, risk alone orders


def _risk(snapshot: Snapshot) -> float:
    return max(snapshot.churn_risk, 1.0 - snapshot.score / 100.0)


def _renewal_impact(snapshot: Snapshot) -> float:
    days = _renewal_days(snapshot)
    urgency = RENEWAL_URGENT_DAYS / max(RENEWAL_URGENT_DAYS, days if days is not None else 90)
    return _arr(snapshot) * snapshot.churn_risk * urgency  # the expected loss, sooner first


def _first_reason(snapshot: Snapshot) -> str:
    return snapshot.reasons[0] if snapshot.reasons else f"health {snapshot.score:.0f}"


def _attention_reason(snapshot: Snapshot) -> str:
    for kind in ("inactive", "usage_drop", "health_drop"):
        if _has(snapshot, kind):
            return _flag_text(snapshot, kind)
    return _first_reason(snapshot)


def _attention_next(snapshot: Snapshot) -> str:
    if _has(snapshot, "inactive"):
        return "ask the champion why usage stopped"
    if _has(snapshot, "usage_drop"):
        return "ask what changed: a blocker, a lost sponsor or a competitor"
    if _has(snapshot, "health_drop"):
        return "call the champion this week and agree a recovery plan"
    return "agree a recovery plan with the champion"


def _renewal_next(snapshot: Snapshot) -> str:
    days = _renewal_days(snapshot)
    if days is not None and days <= 14:
        return "call the sponsor today"
    return "book a renewal call with the sponsor and bring a save plan"


def _drivers(snapshot: Snapshot) -> str:
    drivers = snapshot.explained("expansion_drivers") or []
    text = listing([str(d) for d in drivers[:2]]) or _flag_text(snapshot, "new_use_case")
    return f"{percent(snapshot.expansion_likelihood)} likely to expand; {text}"


def _commit_next(snapshot: Snapshot) -> str:
    if _has(snapshot, "commit_overage"):
        return "the AE proposes a larger commit for the overage"
    return "the AE proposes a larger commit before it runs out"


def _is_attention(snapshot: Snapshot) -> bool:
    return snapshot.band == "at risk" or _has(snapshot, "health_drop", "usage_drop", "inactive")


SECTIONS = (
    DigestSection(
        "Renewals at risk",
        lambda s: _has(s, "renewal_risk"),
        _renewal_impact,
        lambda s: _flag_text(s, "renewal_risk"),
        _renewal_next,
        "/steward risks",
    ),
    DigestSection(
        "Needs attention",  # renewals at risk are listed above, once
        lambda s: _is_attention(s) and not _has(s, "renewal_risk"),
        lambda s: _arr(s) * _risk(s),
        _attention_reason,
        _attention_next,
        "/steward risks",
    ),
    DigestSection(
        "Bill-shock risk",
        lambda s: _has(s, "bill_shock"),
        lambda s: _stake(s, "month_excess"),
        lambda s: _flag_text(s, "bill_shock"),
        lambda s: "warn the customer before the invoice and look for a runaway job",
        "/steward risks",
    ),
    DigestSection(
        "Commits under-used",
        lambda s: _has(s, "commit_under_use"),
        lambda s: _stake(s, "commit_money") or _arr(s),
        lambda s: _flag_text(s, "commit_under_use"),
        lambda s: "plan an adoption session so the commit is used before the term ends",
        "/steward risks",
    ),
    DigestSection(
        "Commits to expand",  # runs out early or in overage: the AE's news, never a problem
        lambda s: _has(s, "commit_early", "commit_overage"),
        lambda s: _stake(s, "commit_money") or _arr(s),
        lambda s: _flag_text(s, "commit_overage", "commit_early"),
        _commit_next,
        "/steward expansions",
        problem=False,
    ),
    DigestSection(
        "Ready to expand",
        lambda s: s.expansion_likelihood >= EXPANSION_LINE or _has(s, "new_use_case"),
        lambda s: _arr(s) * s.expansion_likelihood,
        _drivers,
        lambda s: "the AE opens an expansion conversation",
        "/steward expansions",
        problem=False,
    ),
)


def needs_human(snapshot: Snapshot) -> bool:
    """A renewal at risk or an account that needs attention: the digest's first two sections."""
    return any(spec.pick(snapshot) for spec in SECTIONS[:2])


def ranked(snapshots: Sequence[Snapshot], spec: DigestSection) -> list[Snapshot]:
    """The accounts a section picks, highest expected impact first."""
    chosen = [s for s in snapshots if spec.pick(s)]
    return sorted(chosen, key=lambda s: (-spec.impact(s), s.score, s.account_id))


def compose_digest(
    day: date,
    snapshots: Sequence[Snapshot],
    names: Mapping[str, str],
    *,
    title: str,
    notes: Mapping[str, str] | None = None,
    platform: str = "slack",
) -> Card:
    """The digest of one day: what needs a human, what can grow, tier moves and wins.

    ``notes`` add a word to an account's lines: who acknowledged or took its alerts,
    or until when they are snoozed. ``platform`` words the commands ("slack" or "teams").
    """
    notes = notes or {}
    bands = Counter(s.band for s in snapshots)
    sections = [Section(facts=_overview(len(snapshots), bands))]
    for spec in SECTIONS:
        chosen = ranked(snapshots, spec)
        if chosen:
            sections.append(_section(spec, chosen, names, notes, platform))
    moves = [s for s in snapshots if _alert_titles(s, lambda a: a.get("kind") == "tier_change")]
    if moves:
        spec = DigestSection(
            "Tier moves", bool, lambda s: _arr(s), _tier_reason, _no_step, "/steward book", False
        )
        sections.append(_section(spec, ranked(moves, spec), names, notes, platform))
    wins = [s for s in snapshots if _wins(s)]
    if wins:
        spec = DigestSection("Wins", bool, lambda s: _arr(s), _win_text, _no_step, "", False)
        sections.append(_section(spec, ranked(wins, spec), names, notes, platform))
    attention = sum(1 for s in snapshots if needs_human(s))
    summary = (
        f"{title}: {attention} accounts need attention, "
        f"{bands.get('healthy', 0)} of {len(snapshots)} are healthy."
    )
    return Card(
        title=title,
        summary=summary,
        sections=tuple(sections),
        footer=f"Health as scored on {day}. Type {command(platform, '/health')} <account> "
        "for any line.",
    )


def _no_step(snapshot: Snapshot) -> str:
    return ""


def _overview(total: int, bands: Counter[str]) -> tuple[Fact, ...]:
    return (
        Fact("Accounts", f"{total:,}"),
        Fact("Healthy", f"{bands.get('healthy', 0):,}"),
        Fact("Watch", f"{bands.get('watch', 0):,}"),
        Fact("At risk", f"{bands.get('at risk', 0):,}"),
    )


def _section(
    spec: DigestSection,
    chosen: Sequence[Snapshot],
    names: Mapping[str, str],
    notes: Mapping[str, str],
    platform: str,
) -> Section:
    items: list[str] = []
    links: list[Button | None] = []
    shown = chosen[:PER_SECTION]
    steps = [spec.next_step(s) for s in shown]
    # The same next step for every line is said once, above them, not five times.
    shared = steps[0] if len(shown) > 1 and steps[0] and len(set(steps)) == 1 else ""
    for s, step in zip(shown, steps, strict=True):
        name = names.get(s.account_id, s.account_id)
        note = f" [{notes[s.account_id]}]" if s.account_id in notes else ""
        why = spec.why(s).rstrip(".")
        step = f" Next: {step}." if step and not shared else ""
        line, link = account_line(
            f"{name} ({s.score:.0f}): {why}.{step}{note}", s.account_id, name, platform
        )
        items.append(line)
        links.append(link)
    left = len(chosen) - PER_SECTION
    if left > 0:
        where = f" → {command(platform, spec.more)}" if spec.more else ""
        items.append(f"…and {left} more ({len(chosen)} in all){where}")
    text = f"Next, for each: {shared}." if shared else ""
    return Section(
        title=f"{spec.title} ({len(chosen)})",
        text=text,
        items=tuple(items),
        links=tuple(links) if any(links) else (),
    )


def _tier_reason(snapshot: Snapshot) -> str:
    reason = (snapshot.explained("tier") or {}).get("reason") or ""
    return f"now {snapshot.tier}" + (f": {reason}" if reason else "")


def _alert_titles(snapshot: Snapshot, pick: Callable[[Mapping[str, object]], bool]) -> list[str]:
    alerts = snapshot.explained("alerts") or []
    return [str(a.get("title")) for a in alerts if pick(a)]


def _wins(snapshot: Snapshot) -> bool:
    return bool(_alert_titles(snapshot, lambda a: bool(a.get("resolved"))))


def _win_text(snapshot: Snapshot) -> str:
    cleared = _alert_titles(snapshot, lambda a: bool(a.get("resolved")))
    # snapshots scored before cleared conditions had names of their own say "Resolved: X"
    words = [
        f"{t[len('Resolved: ') :]} cleared" if t.startswith("Resolved: ") else t for t in cleared
    ]
    words = [w[:1].lower() + w[1:] for w in dict.fromkeys(words)]
    text = listing(words)
    return text[:1].upper() + text[1:]
