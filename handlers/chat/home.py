"""A person's home (Slack's App Home tab): their book, their open alerts, their
subscriptions and follows, as cards the adapter lays out one after the other.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from core.messages import Card, Fact, Section
from digests.alerts import SEVERITY_ORDER, alert_buttons
from handlers.chat import lists
from handlers.chat.context import Person
from handlers.chat.follows import FOLLOW_USAGE
from handlers.chat.subscription_grammar import SUBSCRIBE_USAGE
from storage import alert_states, repository
from storage import subscriptions as store
from storage.db import read_connection

RENEWAL_DAYS = 90
MAX_ALERT_CARDS = 8  # each alert card is a few blocks; Slack allows 100 in a home
MAX_LINES = 10


def home_cards(engine: Engine, person: Person, today: date) -> list[Card]:
    """What a person sees on their home: book, alerts, renewals, subscriptions and follows."""
    who = person.name or person.id
    with read_connection(engine) as conn:
        owned = repository.accounts_owned_by(conn, person.handles())
        ids = [a.id for a in owned]
        subs = [
            s
            for s in store.list_subscriptions(conn)
            if s.created_by == person.id or s.channel == f"user:{person.id}"
        ]
        followed = next((s.account_ids for s in subs if s.channel == f"user:{person.id}"), ())
        watched = list(dict.fromkeys([*ids, *followed]))
        states = alert_states.open_states(conn, watched) if watched else []
        names = repository.account_names(conn)
        renewals = repository.renewals_between(
            conn, ids, today, today + timedelta(days=RENEWAL_DAYS)
        )
    cards = [lists.book_card(engine, person.handles(), who, today)] if owned else []
    if not owned:
        cards.append(
            Card(
                title=f"Welcome, {who}",
                summary=(
                    "No account names you as its CSM or AE yet. Follow accounts to get their "
                    "alerts: " + FOLLOW_USAGE
                ),
            )
        )
    by_account: dict[str, list[alert_states.State]] = defaultdict(list)
    for state in states:
        by_account[state.account_id].append(state)
    ranked = sorted(
        by_account.items(),
        key=lambda item: (min(SEVERITY_ORDER.get(s.severity, 9) for s in item[1]), item[0]),
    )
    attention = [names.get(a, a) for a, _ in ranked]
    cards.append(
        Card(
            title="Needs attention today",
            summary=f"{len(attention)} of your accounts have open alerts.",
            sections=(
                Section(
                    items=tuple(attention[:MAX_LINES]) or ("Nothing open: all quiet.",),
                ),
            ),
        )
    )
    for account_id, open_ in ranked[:MAX_ALERT_CARDS]:
        name = names.get(account_id, account_id)
        cards.append(
            Card(
                title=f"{name}: {', '.join(s.title for s in open_)}",
                summary=f"{name}: {len(open_)} open alert(s).",
                sections=tuple(Section(title=s.title, text=s.evidence) for s in open_[:3]),
                buttons=alert_buttons(account_id),
            )
        )
    lines = [
        f"{names.get(a, a)}: {end:%d %b %Y} ({(end - today).days} days)" for a, end in renewals
    ]
    cards.append(
        Card(
            title=f"Renewals in the next {RENEWAL_DAYS} days",
            summary=f"{len(renewals)} of your accounts renew within {RENEWAL_DAYS} days.",
            sections=(Section(items=tuple(lines[:MAX_LINES]) or ("None.",)),),
        )
    )
    sub_lines = [
        f"{s.kind} in {'your direct messages' if s.channel.startswith('user:') else s.channel}"
        f" ({s.scope})"
        for s in subs
        if s.scope != "follows"
    ]
    follow_lines = [names.get(a, a) for a in followed]
    cards.append(
        Card(
            title="Your subscriptions and follows",
            summary="Subscriptions you set, and the accounts you follow.",
            sections=(
                Section(
                    facts=(
                        Fact("Subscriptions", str(len(sub_lines))),
                        Fact("Follows", str(len(follow_lines))),
                    )
                ),
                Section(title="Subscriptions", items=tuple(sub_lines[:MAX_LINES]) or ("None.",)),
                Section(title="Follows", items=tuple(follow_lines[:MAX_LINES]) or ("None.",)),
            ),
            footer=f"{SUBSCRIBE_USAGE} · {FOLLOW_USAGE}",
        )
    )
    return cards
