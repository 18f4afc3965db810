"""One scored day of the whole book, read once for every digest of a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from sqlalchemy.engine import Connection, Engine

from signals.model import Snapshot
from storage import alert_states, repository, snapshots
from storage.db import read_connection
from storage.repository import Routing
from storage.subscriptions import Sub


@dataclass(frozen=True)
class Book:
    """One scored day of the whole book, read once per digest run."""

    day: date
    snapshots: Mapping[str, Snapshot]
    routing: Mapping[str, Routing]
    notes: Mapping[str, str]

    def select(self, sub: Sub) -> list[Snapshot]:
        """The day's snapshots of the accounts in a subscription's scope."""
        chosen = []
        for account_id, snapshot in self.snapshots.items():
            r = self.routing.get(account_id)
            if r and sub.covers(csm=r.csm, ae=r.ae, segment=r.segment, tier=snapshot.tier):
                chosen.append(snapshot)
        return chosen

    @cached_property
    def names(self) -> dict[str, str]:
        """Account names by id."""
        return {account_id: r.name for account_id, r in self.routing.items()}


def read_book(engine: Engine, day: date, now: datetime) -> Book:
    """The book as scored on ``day``, with who took which account's alerts as of ``now``."""
    with read_connection(engine) as conn:
        snaps = snapshots.snapshots_on(conn, day=day)
        routing = repository.account_routing(conn)
        notes = _notes(conn, now)
    return Book(day, snaps, routing, notes)


def scope_words(sub: Sub) -> str:
    """How a subscription's scope reads in a title."""
    if sub.scope == "book":
        owner = sub.owner_handles[-1] if sub.owner_handles else sub.scope_value
        return f"the book of {owner}"
    if sub.scope in ("segment", "tier"):
        return f"{sub.scope} {sub.scope_value}"
    return "all accounts"


def _notes(conn: Connection, now: datetime) -> dict[str, str]:
    """Per account: who took or acknowledged its alerts, and until when they are snoozed."""
    taken: dict[str, str] = {}
    for state in alert_states.open_states(conn):
        if state.assigned_to:
            taken[state.account_id] = f"taken by {state.assigned_to}"
        elif state.acknowledged_by:
            taken.setdefault(state.account_id, f"acknowledged by {state.acknowledged_by}")
    snoozes = alert_states.snoozed(conn, None, now=now)
    return {
        account_id: "; ".join(
            filter(
                None,
                (
                    taken.get(account_id),
                    f"alerts snoozed until {snoozes[account_id]:%Y-%m-%d}"
                    if account_id in snoozes
                    else None,
                ),
            )
        )
        for account_id in {*taken, *snoozes}
    }
