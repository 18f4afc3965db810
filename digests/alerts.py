"""Alerts out: compare what is in force with what was announced, and enqueue the news.

An evaluation says which conditions (flags) are in force for an account now. Against
the stored alert state, a flag that is not open opens (and is announced unless the
account is snoozed, the same kind was announced within the cooldown, or this is the
first pass over the book); an open alert whose flag is gone resolves (with a
"resolved" follow-up when its opening was announced). Everything one pass finds for
one account goes out as one message, in the same transaction that changed the state:
two workers evaluating the same account announce each change once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Connection

from core.messages import Button, ButtonValue, Card, Section, Tone, card_to_dict
from digests.compose import details_button
from digests.schedule import quiet_until
from signals.alerts import KINDS, AlertKey, cleared_title, follows_up, kind_of
from signals.evaluate import AccountSignals
from storage import alert_states, outbox
from storage.alert_states import State
from storage.subscriptions import Sub

COOLDOWN = timedelta(hours=24)  # the same kind for the same account, announced at most once
SEVERITY_ORDER = {"high": 0, "medium": 1, "info": 2}
TONES: dict[str, Tone] = {"high": "danger", "medium": "warning", "info": "info"}
EVENT_KINDS = frozenset({"tier_change"})  # news, not conditions: never open, never resolve


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One account's conditions in force now, and events (tier changes) to announce."""

    account_id: str
    name: str
    csm: str | None
    ae: str | None
    segment: str | None
    tier: str | None
    flags: Mapping[str, str]  # key -> evidence
    events: Mapping[str, str] = field(default_factory=dict)  # key -> evidence
    conditions: bool = True  # False: announce the events only, leave conditions as they are
    as_of: date | None = None  # the day scored (a month's bill shock expires with the month)

    @classmethod
    def of(cls, s: AccountSignals, *, with_tier_change: bool = False) -> Evaluation:
        """The evaluation of a scored account (a tier change only from the daily pass)."""
        info = s.features.account
        events = {}
        if with_tier_change and s.tier.changed:
            key = AlertKey("tier_change", day=s.tier.state.since)
            events[str(key)] = f"{s.tier.previous} -> {s.tier.state.tier}: {s.tier.reason}."
        return cls(
            account_id=info.id,
            name=info.name,
            csm=info.csm,
            ae=info.ae,
            segment=info.segment,
            tier=s.tier.state.tier,
            flags=dict(s.flags),
            events=events,
            as_of=s.features.as_of,
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One alert that opened or resolved in this pass."""

    key: str
    kind: str
    severity: str
    title: str
    evidence: str
    resolved: bool = False

    @property
    def owner_role(self) -> str:
        """Whose news it is: "csm", or "ae" for expansion signals."""
        return KINDS[self.kind][1]


@dataclass(frozen=True, slots=True)
class Notice:
    """What one pass announces about one account: one message per destination."""

    account: Evaluation
    changes: tuple[Change, ...]

    @property
    def period(self) -> str:
        """A stable name for this batch of changes (part of the outbox key)."""
        keys = ",".join(f"{c.key}:{'r' if c.resolved else 'o'}" for c in self.changes)
        return hashlib.sha256(keys.encode()).hexdigest()[:12]


@dataclass
class PassReport:
    """What an alert pass did."""

    accounts: int = 0
    opened: int = 0
    resolved: int = 0
    announced: int = 0  # messages enqueued
    silent: int = 0  # changes recorded without a message (baseline, snooze, cooldown)
    baseline: bool = False

    def words(self) -> str:
        """One line for logs and the CLI."""
        base = " (first pass: recorded as a baseline, nothing announced)" if self.baseline else ""
        return (
            f"{self.accounts} accounts evaluated: {self.opened} alerts opened, "
            f"{self.resolved} resolved, {self.announced} messages queued, "
            f"{self.silent} changes kept quiet{base}"
        )


def record(
    conn: Connection,
    evaluations: Sequence[Evaluation],
    *,
    now: datetime,
    baseline: bool,
    report: PassReport,
    cooldown: timedelta = COOLDOWN,
) -> list[Notice]:
    """Apply evaluations to the alert state; return what should be announced."""
    ids = [e.account_id for e in evaluations]
    states = alert_states.states_of(conn, ids)
    snoozes = alert_states.snoozed(conn, ids, now=now)
    notices = []
    for ev in evaluations:
        quiet = baseline or ev.account_id in snoozes
        changes = _apply(conn, ev, states.get(ev.account_id, {}), now, quiet, cooldown, report)
        report.accounts += 1
        if changes:
            notices.append(Notice(ev, tuple(changes)))
    return notices


def _apply(
    conn: Connection,
    ev: Evaluation,
    known: Mapping[str, State],
    now: datetime,
    quiet: bool,
    cooldown: timedelta,
    report: PassReport,
) -> list[Change]:
    changes = []
    announced_kinds = {
        s.kind for s in known.values() if s.last_notified_at and now - s.last_notified_at < cooldown
    }
    flags = ev.flags if ev.conditions else {}
    for key, evidence in sorted({**flags, **ev.events}.items()):
        state = known.get(key)
        if state is not None and state.status in ("open", "event"):
            continue
        kind = kind_of(key)
        severity, _, title = KINDS[kind]
        notify = not quiet and kind not in announced_kinds
        opened = alert_states.open_alert(
            conn,
            account_id=ev.account_id,
            key=key,
            kind=kind,
            severity=severity,
            title=title,
            evidence=evidence,
            now=now,
            notify=notify,
            status="event" if kind in EVENT_KINDS else "open",
        )
        if not opened:  # another worker got there first: it announces
            continue
        report.opened += 1
        if notify:
            announced_kinds.add(kind)
            changes.append(Change(key, kind, severity, title, evidence))
        else:
            report.silent += 1
    for key, state in sorted(known.items()):
        if not ev.conditions or state.status != "open" or key in ev.flags:
            continue
        if not alert_states.resolve_alert(conn, account_id=ev.account_id, key=key, now=now):
            continue
        report.resolved += 1
        as_of = ev.as_of or now.date()
        if state.notified_at is not None and not quiet and follows_up(key, ev.flags, as_of):
            title = cleared_title(state.kind) if state.kind in KINDS else f"{state.title} cleared"
            changes.append(Change(key, state.kind, "info", title, state.evidence, True))
        else:
            report.silent += 1
    return changes


def route(
    conn: Connection,
    notices: Iterable[Notice],
    subscriptions: Sequence[Sub],
    *,
    platform: str,
    now: datetime,
    report: PassReport,
    direct: bool = True,
    daily_cap: int | None = None,
) -> None:
    """Enqueue each notice to the channels whose alert subscription covers the account.

    Each channel gets at most ``daily_cap`` alert messages a day (UTC), the most severe
    first; the rest of a pass goes out as one summary message that lists them grouped
    by kind. With ``direct`` (the platform can send), expansion signals also go to the
    AE directly, and a tier change, or news for an account no channel covers, to the
    CSM (``user:<handle>``: the sender finds the person on the platform by id or email).
    """
    subs = [s for s in subscriptions if s.kind == "alerts" and s.platform == platform]
    sent: dict[str, int] = {}
    overflow: dict[str, list[Notice]] = {}
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for notice in sorted(notices, key=_urgency):
        ev = notice.account
        covering = [
            s
            for s in subs
            if s.covers(
                csm=ev.csm, ae=ev.ae, segment=ev.segment, tier=ev.tier, account_id=ev.account_id
            )
        ]
        card = card_to_dict(alert_card(notice))
        for sub in covering:
            if daily_cap is not None:
                if sub.channel not in sent:
                    sent[sub.channel] = outbox.queued_since(
                        conn, platform=platform, channel=sub.channel, kind="alert", since=midnight
                    )
                if sent[sub.channel] >= daily_cap:
                    overflow.setdefault(sub.channel, []).append(notice)
                    continue
                sent[sub.channel] += 1
            report.announced += _enqueue(
                conn, platform, sub.channel, notice, card, now, quiet_until(sub, now)
            )
        people = set()
        if not direct:
            continue
        if ev.ae and any(c.owner_role == "ae" and not c.resolved for c in notice.changes):
            people.add(ev.ae)
        if ev.csm and (not covering or any(c.kind == "tier_change" for c in notice.changes)):
            people.add(ev.csm)
        for person in sorted(people):
            report.announced += _enqueue(conn, platform, f"user:{person}", notice, card, now, now)
    for channel, held in overflow.items():
        sub = next(s for s in subs if s.channel == channel)
        added = outbox.enqueue(
            conn,
            platform=platform,
            channel=channel,
            kind="alert",
            account_id=None,
            period=f"{now:%Y%m%dT%H%M%S}.more",
            card=card_to_dict(overflow_card(held, daily_cap or 0, platform)),
            now=now,
            not_before=quiet_until(sub, now),
        )
        report.announced += added is not None


def _urgency(notice: Notice) -> tuple[int, int, str]:
    """Most severe first, then news before follow-ups, then by name."""
    opened = [c for c in notice.changes if not c.resolved]
    worst = min((SEVERITY_ORDER[c.severity] for c in opened), default=len(SEVERITY_ORDER))
    return worst, -len(opened), notice.account.name


def overflow_card(held: Sequence[Notice], cap: int, platform: str) -> Card:
    """One message for the alerts past a channel's daily cap, grouped by kind."""
    groups: dict[str, list[str]] = {}
    for notice in held:
        for c in notice.changes:
            names = groups.setdefault(c.title, [])
            if notice.account.name not in names:
                names.append(notice.account.name)
    health = "@Steward health" if platform == "teams" else "/health"
    items = tuple(
        f"{title} ({len(names)}): {', '.join(names)}"
        for title, names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )
    n = len(held)
    accounts = f"{n} more account{'s' if n != 1 else ''}"
    return Card(
        title=f"Alerts for {accounts} today",
        summary=f"Alerts for {accounts}, held back: this channel has had its {cap} for today.",
        sections=(
            Section(
                title="More alerts today",
                text=f"This channel gets at most {cap} alert messages a day; these are the "
                f"rest, by kind. Type {health} <account> for any of them.",
                items=items,
            ),
        ),
        tone="info",
    )


def _enqueue(
    conn: Connection,
    platform: str,
    channel: str,
    notice: Notice,
    card: Mapping[str, object],
    now: datetime,
    not_before: datetime,
) -> int:
    added = outbox.enqueue(
        conn,
        platform=platform,
        channel=channel,
        kind="alert",
        account_id=notice.account.account_id,
        period=f"{now:%Y%m%dT%H%M%S}.{notice.period}",
        card=card,
        now=now,
        not_before=not_before,
    )
    return 0 if added is None else 1


def alert_card(notice: Notice) -> Card:
    """One message for everything a pass found about one account, worst first."""
    ev = notice.account
    changes = sorted(notice.changes, key=lambda c: (c.resolved, SEVERITY_ORDER[c.severity], c.key))
    opened = [c for c in changes if not c.resolved]
    titles = ", ".join(c.title for c in changes)
    worst = opened[0].severity if opened else "info"
    sections = tuple(
        Section(title=c.title, text=c.evidence if not c.resolved else f"Before: {c.evidence}")
        for c in changes
    )
    owners = " · ".join(f"{role} {who}" for role, who in (("CSM", ev.csm), ("AE", ev.ae)) if who)
    return Card(
        title=f"{ev.name}: {titles}",
        summary=f"{ev.name}: {titles}.",
        sections=sections,
        buttons=alert_buttons(ev.account_id) if opened else (details_button(ev.account_id),),
        footer=" · ".join(filter(None, (owners, f"Tier {ev.tier}" if ev.tier else None))) or None,
        tone=TONES[worst] if opened else "good",
        mentions=tuple(who for who in (ev.csm, ev.ae) if who),
    )


def alert_buttons(account_id: str) -> tuple[Button, ...]:
    """Acknowledge, open details, assign to me, snooze a day or a week (most used first:
    a platform that shows few buttons keeps the rest behind "More")."""
    return (
        Button("Acknowledge", "ack", ButtonValue("health", account_id).encode(), style="primary"),
        details_button(account_id),
        Button("Assign to me", "assign", ButtonValue("health", account_id).encode()),
        Button("Snooze 1 day", "snooze", ButtonValue("health", account_id, "1").encode()),
        Button("Snooze 7 days", "snooze", ButtonValue("health", account_id, "7").encode()),
    )
