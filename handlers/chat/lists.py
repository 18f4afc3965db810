"""Cards about many accounts: a book, the top risks and expansions, the digest preview."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from sqlalchemy.engine import Engine

from core.messages import Card, Fact, Section
from digests.compose import compose_digest
from handlers.chat.lookup import scoring_day
from signals.model import Snapshot
from signals.words import percent
from storage import repository, snapshots
from storage.db import read_connection

TOP = 10
BOOK_LINES = 15


def _line(name: str, s: Snapshot) -> str:
    return f"{name}: health {s.score:.0f} ({s.band.replace('_', ' ')}), {s.tier} tier"


def book_card(engine: Engine, handles: Sequence[str], who: str, today: date) -> Card:
    """The accounts someone owns as CSM or AE, weakest first, with counts by band."""
    day = scoring_day(engine, today)
    with read_connection(engine) as conn:
        owned = repository.accounts_owned_by(conn, handles)
        found = snapshots.snapshots_on(conn, day=day, account_ids=[a.id for a in owned])
    if not owned:
        return Card(
            title=f"No accounts for {who}",
            summary=(
                f"No account names {who} as its CSM or AE. The CRM's csm and ae fields "
                "must hold the person's Slack id, email or name."
            ),
        )
    scored = sorted(
        ((a, found[a.id]) for a in owned if a.id in found), key=lambda pair: pair[1].score
    )
    items = [f"{_line(a.name, s)}, {a.role.upper()}" for a, s in scored[:BOOK_LINES]]
    if len(scored) > BOOK_LINES:
        items.append(f"…and {len(scored) - BOOK_LINES} more, healthier than these")
    unscored = len(owned) - len(scored)
    if unscored:
        items.append(f"{unscored} not scored on {day} (no usage yet, or added since)")
    bands = Counter(s.band for _, s in scored)
    facts = (
        Fact("Accounts", str(len(owned))),
        Fact("At risk", str(bands.get("at risk", 0))),
        Fact("Watch", str(bands.get("watch", 0))),
        Fact("Healthy", str(bands.get("healthy", 0))),
    )
    return Card(
        title=f"Book of {who}",
        summary=f"{who} owns {len(owned)} accounts; {bands.get('at risk', 0)} are at risk.",
        sections=(Section(facts=facts), Section(title="Weakest first", items=tuple(items))),
        footer=f"Health as scored on {day}.",
    )


NOT_SCORED = "No account has been scored yet: run steward score."


def _ranked_card(engine: Engine, today: date, *, by: str, title: str) -> Card:
    day = scoring_day(engine, today)
    with read_connection(engine) as conn:
        top = snapshots.top_snapshots(conn, day=day, by=by, limit=TOP)
        names = repository.account_names(conn) if top else {}
    if not top:
        return Card(title=title, summary=NOT_SCORED)
    items = tuple(_ranked_line(names.get(s.account_id, s.account_id), s, by) for s in top)
    return Card(
        title=title,
        summary=f"{title}: {names.get(top[0].account_id, top[0].account_id)} leads.",
        sections=(Section(items=items),),
        footer=f"As scored on {day}. /health <account> explains any of them.",
    )


def _ranked_line(name: str, s: Snapshot, by: str) -> str:
    if by == "churn_risk":
        drivers = s.explained("churn_drivers") or []
        why = ", ".join(str(d) for d in drivers[:2]) or (s.reasons[0] if s.reasons else "")
        return f"{name}: {percent(s.churn_risk)} churn risk, health {s.score:.0f}; {why}"
    drivers = s.explained("expansion_drivers") or []
    why = ", ".join(str(d) for d in drivers[:2]) or "usage and commit pace"
    return f"{name}: {percent(s.expansion_likelihood)} likely to expand; {why}"


def risks_card(engine: Engine, today: date) -> Card:
    """The accounts most likely to churn, with their drivers."""
    return _ranked_card(engine, today, by="churn_risk", title="Most likely to churn")


def expansions_card(engine: Engine, today: date) -> Card:
    """The accounts most likely to expand, with their drivers."""
    return _ranked_card(engine, today, by="expansion_likelihood", title="Most likely to expand")


def digest_preview(engine: Engine, today: date) -> Card:
    """Today's digest as it would be posted, from the latest scoring."""
    day = scoring_day(engine, today)
    with read_connection(engine) as conn:
        found = snapshots.snapshots_on(conn, day=day)
        names = repository.account_names(conn)
    if not found:
        return Card(title="Digest preview", summary="No account has been scored yet.")
    return compose_digest(day, list(found.values()), names, title=f"Digest preview for {day}")
