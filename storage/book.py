"""The book as scoring reads it: each account's data between two days, and what is stored.

Commands (handlers/chat) and the application's scoring (services/) both read through
these, each on its own connection, so neither has to reach into the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from signals.features import USER_DAYS
from signals.model import AccountData, ScoringError
from storage import history, repository
from storage.db import read_connection


def data_span(engine: Engine) -> tuple[date, date] | None:
    """First and last day with usage in the database."""
    with read_connection(engine) as conn:
        return history.data_span(conn)


def default_as_of(engine: Engine, today: date) -> date:
    """The last day with usage (not after today): what `steward score` scores by default."""
    span = data_span(engine)
    if span is None:
        raise ScoringError("No usage stored yet: send events to /v1/events or `steward import`.")
    return min(span[1], today)


def stream(
    engine: Engine,
    *,
    since: date | None,
    until: date | None,
    account_ids: Sequence[str] | None = None,
    batch_size: int = 500,
    scored_from: date | None = None,
) -> Iterator[AccountData]:
    """Every account's data between two days, one account at a time.

    ``scored_from`` is the first day that will be scored: per-user activity is read
    only from USER_DAYS before it, as adoption looks at the last two windows only.
    """
    users_since = scored_from - timedelta(days=USER_DAYS) if scored_from else None
    with read_connection(engine) as conn:
        yield from history.iter_account_data(
            conn,
            since=since,
            until=until,
            account_ids=account_ids,
            batch_size=batch_size,
            users_since=users_since,
        )


def count_accounts(engine: Engine) -> int:
    """How many accounts a full pass reads (for progress bars)."""
    with read_connection(engine) as conn:
        return repository.count_accounts(conn)
