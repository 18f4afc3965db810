"""What the signals read: every account's history, and the span of the data.

Functions take a connection; callers own transactions. ``iter_account_data`` reads the
book a batch of accounts at a time, each table with one range query on its key prefix
(``account_id`` between the batch's first and last id, in the database's own order), so
that memory holds one batch and the number of queries does not grow with the accounts.
The two large reads (the daily rollups) go through the driver's cursor as plain tuples:
SQLAlchemy's per-row work would about double their cost. The snapshots the signals write
back are in ``storage.snapshots``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from itertools import chain, groupby
from operator import itemgetter
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from signals.model import (
    AccountData,
    AccountInfo,
    ContractTerms,
    DimensionActivity,
    MetricSeries,
    Ticket,
)
from storage.tables import accounts, contracts, support_tickets, usage_daily

FETCH_CHUNK = 5000  # rows per fetch from the driver

_BY_ACCOUNT = itemgetter(0)
_BY_METRIC = itemgetter(1)
_BY_DIMENSION_VALUE = itemgetter(1, 2)
_INFO_COLUMNS = tuple(accounts.c[f.name] for f in fields(AccountInfo))

_USAGE_SQL = """
SELECT account_id, metric, day, quantity, events, successes, failures
FROM usage_daily WHERE {where}
ORDER BY account_id, metric, day
"""
_ACTIVITY_SQL = """
SELECT account_id, dimension, value, day, sum(events), sum(successes), sum(failures)
FROM usage_daily_breakdown WHERE {where}
GROUP BY account_id, dimension, value, day
ORDER BY account_id, dimension, value, day
"""

T = TypeVar("T")
DayParser: TypeAlias = Callable[[tuple[Any, ...]], tuple[date, ...]]
AnyRow: TypeAlias = sa.Row[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Batch:
    """Accounts consecutive in the database's id order; ``only`` when others lie between."""

    accounts: list[AccountInfo]
    only: list[str] | None

    @property
    def first(self) -> str:
        return self.accounts[0].id

    @property
    def last(self) -> str:
        return self.accounts[-1].id


@dataclass(frozen=True, slots=True)
class _Window:
    """The days of usage to read, both ends inclusive, None for no bound."""

    since: date | None
    until: date | None
    users_since: date | None = None  # per-user activity before this day is not read


# -- accounts with their history ------------------------------------------------------------


def iter_account_data(
    conn: Connection,
    *,
    until: date | None = None,
    since: date | None = None,
    account_ids: Sequence[str] | None = None,
    batch_size: int = 500,
    users_since: date | None = None,
) -> Iterator[AccountData]:
    """Yield every account (or those of ``account_ids`` that exist) with its history, by id.

    Usage series and feature/team/user activity keep the days in [since, until] (both
    inclusive, either optional); a metric or value without a day there is left out, so
    an account without usage has empty ``metrics``. Activity is summed over metrics.
    Every contract comes along whatever its term; tickets opened (UTC) on or before
    ``until``. Ids come in the database's collation order (within each batch of
    ``account_ids`` when given). Memory holds one batch: about 180 MB for 500 accounts
    with a year of three metrics. ``users_since`` also drops per-user days before it
    (the bulk of the breakdown rows; signals look at recent users only), while
    features and teams keep their whole window, so that their first use is known.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    window = _Window(since=since, until=until, users_since=users_since)
    days = _day_parser(conn)
    batches = (
        _all_accounts(conn, batch_size)
        if account_ids is None
        else _named_accounts(conn, account_ids, batch_size)
    )
    for batch in batches:
        yield from _load_batch(conn, batch, window, days)


def _all_accounts(conn: Connection, batch_size: int) -> Iterator[_Batch]:
    """Every account, a page at a time (keyset pagination on the id)."""
    query = sa.select(*_INFO_COLUMNS).order_by(accounts.c.id).limit(batch_size)
    page = query
    while infos := _account_infos(conn, page):
        yield _Batch(accounts=infos, only=None)
        if len(infos) < batch_size:
            return
        page = query.where(accounts.c.id > infos[-1].id)


def _named_accounts(
    conn: Connection, account_ids: Sequence[str], batch_size: int
) -> Iterator[_Batch]:
    """The named accounts that exist, ``batch_size`` ids at a time."""
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), batch_size):
        chunk = wanted[start : start + batch_size]
        query = sa.select(*_INFO_COLUMNS).where(accounts.c.id.in_(chunk)).order_by(accounts.c.id)
        if infos := _account_infos(conn, query):
            yield _Batch(accounts=infos, only=[info.id for info in infos])


def _account_infos(conn: Connection, query: sa.Select[Any]) -> list[AccountInfo]:
    return [AccountInfo(**row._mapping) for row in conn.execute(query)]


def _load_batch(
    conn: Connection, batch: _Batch, window: _Window, days: DayParser
) -> Iterator[AccountData]:
    """Read the batch's rows of each table once, then hand out the accounts in order."""
    metrics = _metric_series(conn, batch, window, days)
    activity = _dimension_activity(conn, batch, window, days)
    terms = _contract_terms(conn, batch)
    tickets = _tickets(conn, batch, window.until)
    for info in batch.accounts:
        yield AccountData(
            account=info,
            metrics=metrics.get(info.id, ()),
            contracts=terms.get(info.id, ()),
            dimensions=activity.get(info.id, ()),
            tickets=tickets.get(info.id, ()),
        )


def _metric_series(
    conn: Connection, batch: _Batch, window: _Window, days: DayParser
) -> dict[str, tuple[MetricSeries, ...]]:
    """{account_id: one MetricSeries per metric}, from usage_daily in key order."""
    where, params = _raw_filter(conn, batch, window)
    with _driver_rows(conn, _USAGE_SQL.format(where=where), params) as rows:
        return {
            account_id: tuple(
                _series(metric, group, days) for metric, group in groupby(account_rows, _BY_METRIC)
            )
            for account_id, account_rows in groupby(rows, _BY_ACCOUNT)
        }


def _series(metric: str, rows: Iterable[tuple[Any, ...]], days: DayParser) -> MetricSeries:
    _, _, day, quantity, events, successes, failures = zip(*rows, strict=True)
    return MetricSeries(metric, days(day), quantity, events, successes, failures)


def _dimension_activity(
    conn: Connection, batch: _Batch, window: _Window, days: DayParser
) -> dict[str, tuple[DimensionActivity, ...]]:
    """{account_id: activity per (dimension, value)}, summed over metrics by the database."""
    where, params = _raw_filter(conn, batch, window)
    if window.users_since is not None:
        where += f" AND (dimension <> 'user' OR day >= {_mark(conn)})"
        params.append(_day_param(conn)(window.users_since))
    with _driver_rows(conn, _ACTIVITY_SQL.format(where=where), params) as rows:
        return {
            account_id: tuple(
                _activity(key, group, days)
                for key, group in groupby(account_rows, _BY_DIMENSION_VALUE)
            )
            for account_id, account_rows in groupby(rows, _BY_ACCOUNT)
        }


def _activity(
    key: tuple[str, str], rows: Iterable[tuple[Any, ...]], days: DayParser
) -> DimensionActivity:
    _, _, _, day, events, successes, failures = zip(*rows, strict=True)
    return DimensionActivity(key[0], key[1], days(day), events, successes, failures)


def _contract_terms(conn: Connection, batch: _Batch) -> dict[str, tuple[ContractTerms, ...]]:
    """{account_id: its contracts by start date}, whatever their term."""
    c = contracts.c
    query = (
        sa.select(c.account_id, c.id, c.start_date, c.end_date, c.committed_amount)
        .add_columns(c.unit_prices, c.monthly_budget, c.kind, c.currency)
        .where(_in_batch(c.account_id, batch))
        .order_by(c.account_id, c.start_date, c.id)
    )
    return _by_account(conn, query, _terms)


def _terms(row: AnyRow) -> ContractTerms:
    return ContractTerms(
        id=row.id,
        start=row.start_date,
        end=row.end_date,
        committed_amount=row.committed_amount,
        unit_prices=dict(row.unit_prices),
        monthly_budget=row.monthly_budget,
        kind=row.kind,
        currency=row.currency,
    )


def _tickets(conn: Connection, batch: _Batch, until: date | None) -> dict[str, tuple[Ticket, ...]]:
    """{account_id: its tickets by opening time}, those opened on or before ``until``."""
    t = support_tickets.c
    query = (
        sa.select(t.account_id, t.id, t.status, t.priority, t.opened_at, t.solved_at, t.csat)
        .where(_in_batch(t.account_id, batch))
        .order_by(t.account_id, t.opened_at, t.id)
    )
    if until is not None:
        query = query.where(t.opened_at < datetime.combine(until + timedelta(days=1), time(), UTC))
    return _by_account(conn, query, _ticket)


def _by_account(
    conn: Connection, query: sa.Select[Any], make: Callable[[AnyRow], T]
) -> dict[str, tuple[T, ...]]:
    """Run a query ordered by account_id; {account_id: its rows made into records}."""
    return {
        account_id: tuple(make(row) for row in group)
        for account_id, group in groupby(conn.execute(query), _BY_ACCOUNT)
    }


def _ticket(row: AnyRow) -> Ticket:
    return Ticket(
        id=row.id,
        status=row.status,
        priority=row.priority,
        opened_at=row.opened_at,
        solved_at=row.solved_at,
        csat=row.csat,
    )


def _in_batch(column: sa.ColumnElement[str], batch: _Batch) -> sa.ColumnElement[bool]:
    within = column.between(batch.first, batch.last)
    return within if batch.only is None else sa.and_(within, column.in_(batch.only))


# -- the rollups through the driver ---------------------------------------------------------


def _raw_filter(conn: Connection, batch: _Batch, window: _Window) -> tuple[str, list[Any]]:
    """A WHERE clause in the driver's parameter style for the batch's ids and the window."""
    mark = _mark(conn)
    clauses = [f"account_id >= {mark}", f"account_id <= {mark}"]
    params: list[Any] = [batch.first, batch.last]
    if batch.only is not None:
        clauses.append(f"account_id IN ({', '.join([mark] * len(batch.only))})")
        params.extend(batch.only)
    as_param = _day_param(conn)
    if window.since is not None:
        clauses.append(f"day >= {mark}")
        params.append(as_param(window.since))
    if window.until is not None:
        clauses.append(f"day <= {mark}")
        params.append(as_param(window.until))
    return " AND ".join(clauses), params


def _mark(conn: Connection) -> str:
    """The driver's parameter placeholder."""
    return "%s" if conn.dialect.name == "postgresql" else "?"


def _day_param(conn: Connection) -> Callable[[date], Any]:
    """SQLite keeps days as ISO text (and its driver's date adapter is deprecated)."""
    return date.isoformat if conn.dialect.name == "sqlite" else _same


def _same(value: Any) -> Any:
    return value


class _ParsedDays(dict[str, date]):
    """ISO day text (as SQLite returns it) to dates, each distinct day parsed once."""

    def __missing__(self, text: str) -> date:
        day = self[text] = date.fromisoformat(text)
        return day


def _day_parser(conn: Connection) -> DayParser:
    """Turn a column of days as the driver returns them into dates (psycopg already does)."""
    if conn.dialect.name != "sqlite":
        return _same
    parsed = _ParsedDays()
    return lambda column: tuple(map(parsed.__getitem__, column))


@contextmanager
def _driver_rows(conn: Connection, sql: str, params: list[Any]) -> Iterator[Iterable[Any]]:
    """Run a query on the driver's own cursor, in the connection's transaction.

    Rows are fetched FETCH_CHUNK at a time (psycopg's per-row iteration is Python code),
    in binary on PostgreSQL. Driver errors come out as SQLAlchemy's, so that storage.db
    still recognises an outage.
    """
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor(binary=True) if conn.dialect.name == "postgresql" else raw.cursor()
    error = conn.dialect.loaded_dbapi.Error
    try:
        cursor.execute(sql, params)
        yield chain.from_iterable(iter(partial(cursor.fetchmany, FETCH_CHUNK), []))
    except error as err:
        raise sa.exc.DBAPIError.instance(sql, params, err, error) from err
    finally:
        cursor.close()


# -- the span of the data -------------------------------------------------------------------


def data_span(conn: Connection) -> tuple[date, date] | None:
    """The first and last day with usage, or None before any usage arrives."""
    day = usage_daily.c.day
    first, last = conn.execute(sa.select(sa.func.min(day), sa.func.max(day))).one()
    return None if first is None else (first, last)
