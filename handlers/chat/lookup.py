"""Read what a command answers from: an account's latest evaluation and its live figures."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from handlers.chat.matching import NameIndex
from signals.commit import contract_in_force
from signals.config import ScoringConfig
from signals.evaluate import score_account, to_snapshot
from signals.features import LOOKBACK_DAYS, AccountFeatures, extract
from signals.model import AccountData, ScoringError, Snapshot
from signals.value import ValueRealized, value_realized
from storage import repository, snapshots
from storage.book import default_as_of, stream
from storage.db import read_connection

HISTORY_DAYS = 21  # snapshots read back for the week's change


@dataclass(frozen=True, slots=True)
class AccountView:
    """One account as a command shows it.

    ``snapshot`` is the latest stored evaluation (with peers, tier and alerts), or a live
    one when the account was never scored (``live``); ``features`` and ``data`` are
    computed now from the stored usage up to ``as_of``.
    """

    info: dict[str, Any]
    as_of: date
    snapshot: Snapshot
    week_ago: Snapshot | None
    features: AccountFeatures
    data: AccountData
    live: bool

    @property
    def name(self) -> str:
        """The account's display name."""
        return str(self.info["name"])

    @property
    def change(self) -> float | None:
        """Health points gained (or lost) since a week before the evaluation."""
        if self.week_ago is None:
            return None
        return round(self.snapshot.score - self.week_ago.score, 1)


_NAMES: weakref.WeakKeyDictionary[Engine, tuple[Any, NameIndex]] = weakref.WeakKeyDictionary()
_NAMES_LOCK = threading.Lock()


def account_names(engine: Engine) -> NameIndex:
    """Every account's display name by id, indexed for matching.

    Kept in memory while the accounts are unchanged (same count, same latest
    update), so a command does not read and normalise every name again.
    """
    with read_connection(engine) as conn:
        version = repository.accounts_version(conn)
        with _NAMES_LOCK:
            cached = _NAMES.get(engine)
        if cached is not None and cached[0] == version:
            return cached[1]
        index = NameIndex.of(repository.account_names(conn))
    with _NAMES_LOCK:
        _NAMES[engine] = (version, index)
    return index


def scoring_day(engine: Engine, today: date) -> date:
    """The day commands answer for: the latest scored day, else the last day with usage."""
    with read_connection(engine) as conn:
        latest = snapshots.latest_day(conn)
    return latest if latest is not None else default_as_of(engine, today)


def account_view(
    engine: Engine, account_id: str, *, today: date, config: ScoringConfig
) -> AccountView | None:
    """Read one account's evaluation and live figures; None if the account is gone.

    Raises:
        ScoringError: no usage is stored at all yet.
    """
    as_of = scoring_day(engine, today)
    with read_connection(engine) as conn:
        info = repository.get_account(conn, account_id)
        if info is None:
            return None
        recent = snapshots.snapshot_history(
            conn, account_id=account_id, since=as_of - timedelta(days=HISTORY_DAYS), until=as_of
        )
    data = _data(engine, account_id, as_of)
    features = extract(data, as_of, config)
    live = not recent
    latest = recent[-1] if recent else to_snapshot(score_account(features, config))
    week_ago = _week_before(recent, latest.day)
    return AccountView(info, as_of, latest, week_ago, features, data, live)


def _data(engine: Engine, account_id: str, as_of: date) -> AccountData:
    since = as_of - timedelta(days=LOOKBACK_DAYS)
    found = list(
        stream(engine, since=since, until=as_of, account_ids=[account_id], scored_from=as_of)
    )
    if not found:
        raise ScoringError(f"account {account_id!r} vanished while being read")
    return found[0]


def _week_before(recent: list[Snapshot], day: date) -> Snapshot | None:
    """The latest snapshot at least seven days before ``day``."""
    older = [s for s in recent if s.day <= day - timedelta(days=7)]
    return older[-1] if older else None


def value_for(view: AccountView, days: int, config: ScoringConfig) -> ValueRealized:
    """Value realized over the ``days`` days up to the view's day, at the contract's prices."""
    contract = contract_in_force(view.data.contracts, view.as_of)
    prices = dict(contract.unit_prices) if contract else {}
    first = view.as_of - timedelta(days=days - 1)
    return value_realized(
        view.data.metrics, view.data.dimensions, first, view.as_of, prices, config.value_factors
    )
