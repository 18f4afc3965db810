"""What the portfolio KPIs read: accounts, contracts and usage totals per period.

Read-only; functions take a connection. Usage is aggregated by the database: one pass over
``usage_daily`` for the days the periods span, grouped by account and metric with one sum
per period, so that Python receives a row per account and metric, not per day. Snapshots
are read through ``storage.snapshots``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import fields
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from signals.model import AccountInfo, ContractTerms
from signals.portfolio import AccountUsage, Period
from storage.tables import accounts, contracts, usage_daily

IN_CHUNK = 500  # ids per IN (...) list

_INFO_COLUMNS = tuple(accounts.c[f.name] for f in fields(AccountInfo))


def account_usage(
    conn: Connection,
    *,
    periods: Mapping[str, Period],
    account_ids: Collection[str] | None = None,
) -> list[AccountUsage]:
    """Every account (or those of ``account_ids`` that exist), by id, with its contracts and
    its usage totals per named period: quantity per metric and events over all metrics."""
    infos: list[AccountInfo] = []
    terms: dict[str, list[ContractTerms]] = defaultdict(list)
    quantity: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    events: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for ids in _id_chunks(account_ids):
        infos.extend(_account_infos(conn, ids))
        for account_id, term in _contracts(conn, ids):
            terms[account_id].append(term)
        for account_id, metric, totals in _period_totals(conn, periods, ids):
            for name, (q, e) in totals.items():
                if e or q:
                    quantity[account_id][name][metric] = q
                    events[account_id][name] += e
    return [
        AccountUsage(
            account=info,
            contracts=tuple(terms.get(info.id, ())),
            quantity={name: dict(m) for name, m in quantity.get(info.id, {}).items()},
            events=dict(events.get(info.id, {})),
        )
        for info in sorted(infos, key=lambda i: i.id)
    ]


def _id_chunks(account_ids: Collection[str] | None) -> Iterator[list[str] | None]:
    """None once for every account, else the wanted ids IN_CHUNK at a time."""
    if account_ids is None:
        yield None
        return
    wanted = sorted(set(account_ids))
    for start in range(0, len(wanted), IN_CHUNK):
        yield wanted[start : start + IN_CHUNK]


def _only(query: sa.Select[Any], column: sa.ColumnElement[str], ids: list[str] | None) -> Any:
    return query if ids is None else query.where(column.in_(ids))


def _account_infos(conn: Connection, ids: list[str] | None) -> list[AccountInfo]:
    query = _only(sa.select(*_INFO_COLUMNS), accounts.c.id, ids)
    return [AccountInfo(**row._mapping) for row in conn.execute(query)]


def _contracts(conn: Connection, ids: list[str] | None) -> Iterator[tuple[str, ContractTerms]]:
    c = contracts.c
    query = sa.select(
        c.account_id,
        c.id,
        c.start_date,
        c.end_date,
        c.committed_amount,
        c.unit_prices,
        c.monthly_budget,
        c.kind,
        c.currency,
    ).order_by(c.account_id, c.start_date, c.id)
    for row in conn.execute(_only(query, c.account_id, ids)):
        yield (
            row.account_id,
            ContractTerms(
                id=row.id,
                start=row.start_date,
                end=row.end_date,
                committed_amount=row.committed_amount,
                unit_prices=dict(row.unit_prices or {}),
                monthly_budget=row.monthly_budget,
                kind=row.kind,
                currency=row.currency,
            ),
        )


def _period_totals(
    conn: Connection, periods: Mapping[str, Period], ids: list[str] | None
) -> Iterator[tuple[str, str, dict[str, tuple[float, float]]]]:
    """(account_id, metric, {period: (quantity, events)}), summed by the database."""
    if not periods:
        return
    u = usage_daily.c
    names = list(periods)
    sums: list[sa.ColumnElement[Any]] = []
    for name in names:
        inside = u.day.between(periods[name].first, periods[name].last)
        sums.append(sa.func.sum(sa.case((inside, u.quantity), else_=0.0)))
        sums.append(sa.func.sum(sa.case((inside, u.events), else_=0)))
    query = (
        sa.select(u.account_id, u.metric, *sums)
        .where(sa.or_(*(u.day.between(p.first, p.last) for p in _merged(periods.values()))))
        .group_by(u.account_id, u.metric)
    )
    for row in conn.execute(_only(query, u.account_id, ids)):
        values = row[2:]
        totals = {
            name: (float(values[2 * i] or 0.0), float(values[2 * i + 1] or 0))
            for i, name in enumerate(names)
        }
        yield row[0], row[1], totals


def _merged(periods: Iterable[Period]) -> list[Period]:
    """The days the periods cover, as few disjoint periods: only those rows are read."""
    out: list[Period] = []
    for p in sorted(periods, key=lambda p: p.first):
        if out and p.first <= out[-1].last + timedelta(days=1):
            out[-1] = Period(out[-1].first, max(out[-1].last, p.last))
        else:
            out.append(p)
    return out


def first_usage_day(conn: Connection) -> date | None:
    """The first day any usage is stored for (None before any usage arrives).

    The whole book's, whatever accounts a digest covers: it says since when usage has
    been tracked, which tells the KPIs which comparisons the history supports.
    """
    return conn.execute(sa.select(sa.func.min(usage_daily.c.day))).scalar_one_or_none()
