"""The manager digest: portfolio KPIs, churn by cohort, tiers, bands and the week's movers,
followed by the account-level lists of the daily digest."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta

from sqlalchemy.engine import Connection, Engine

from core.messages import Button, Card, Fact, Section
from digests.compose import account_line, command, compose_digest
from signals import portfolio as kpis
from signals.config import ScoringConfig
from signals.features import LOOKBACK_DAYS
from signals.model import AccountInfo, Snapshot
from signals.portfolio import (
    AccountUsage,
    CohortChurn,
    FirstValue,
    Kpi,
    Move,
    Periods,
    WeekMovers,
)
from storage import history, snapshots
from storage import portfolio as store
from storage.db import read_connection

MOVERS_DOWN, MOVERS_UP = 3, 2  # the week's largest falls and rises: five lines


def manager_digest(
    engine: Engine,
    *,
    day: date,
    config: ScoringConfig,
    account_ids: Collection[str] | None = None,
    title: str = "Manager digest",
    notes: Mapping[str, str] | None = None,
    platform: str = "slack",
) -> Card:
    """The manager digest for ``day``: portfolio KPIs, then the account-level lists.

    ``account_ids`` restricts every figure and list to those accounts (a segment or a
    CSM's book); None means the whole book. ``notes`` mark accounts in the lists (who
    took their alerts), as in the daily digest.
    """
    periods = kpis.periods_for(day)
    ids = sorted(set(account_ids)) if account_ids is not None else None
    with read_connection(engine) as conn:
        today = snapshots.snapshots_on(conn, day=day, account_ids=ids)
        if not today:
            return _not_scored(title, day, restricted=ids is not None)
        week_ago = snapshots.snapshots_on(conn, day=day - timedelta(days=7), account_ids=ids)
        usage = store.account_usage(conn, periods=periods.named(), account_ids=ids)
        start = store.first_usage_day(conn)
        infos = {u.account.id: u.account for u in usage}
        first_values = _first_values(conn, today, infos, day, config)
    names = {a: info.name for a, info in infos.items()}
    return _card(
        title=title,
        day=day,
        today=today,
        names=names,
        kpi=_Kpis(periods, usage, start, first_values, config),
        movers=kpis.week_movers(today, week_ago),
        notes=notes or {},
        platform=platform,
    )


def _not_scored(title: str, day: date, *, restricted: bool) -> Card:
    which = "None of these accounts was" if restricted else "No account was"
    return Card(
        title=title,
        summary=f"{which} scored on {day}: run steward score.",
        footer=f"Looked for health scored on {day}.",
    )


def _first_values(
    conn: Connection,
    today: Mapping[str, Snapshot],
    infos: Mapping[str, AccountInfo],
    day: date,
    config: ScoringConfig,
) -> list[FirstValue]:
    """First value as each snapshot recorded it, computed from the data where it did not."""
    found = [
        fv
        for a, s in today.items()
        if a in infos and (fv := kpis.first_value_of(s, infos[a])) is not None
    ]
    missing = sorted(a for a, s in today.items() if not kpis.records_time_to_value(s))
    if missing:
        since = day - timedelta(days=LOOKBACK_DAYS)
        for data in history.iter_account_data(conn, since=since, until=day, account_ids=missing):
            fv = kpis.first_value_from_data(data, day, config.ttv)
            if fv is not None:
                found.append(fv)
    return found


class _Kpis:
    """Every portfolio figure of one digest."""

    def __init__(
        self,
        periods: Periods,
        usage: Sequence[AccountUsage],
        start: date | None,
        first_values: Sequence[FirstValue],
        config: ScoringConfig,
    ) -> None:
        self.nrr = kpis.net_revenue_retention(usage, periods, history_start=start)
        self.movement = kpis.revenue_movement(usage, periods, history_start=start)
        self.churn: CohortChurn = kpis.churn_by_cohort(
            usage,
            periods,
            history_start=start,
            meaningful_fraction=config.windows.meaningful_fraction,
        )
        self.ttv = kpis.time_to_value_kpis(first_values, history_start=start)

    def headline(self) -> tuple[Kpi, ...]:
        """The KPIs of the first section, in order."""
        m, t = self.movement, self.ttv
        return (
            self.nrr,
            m.expansion,
            m.contraction,
            self.churn.overall,
            t.median,
            t.p75,
            t.waiting,
        )


def _card(
    *,
    title: str,
    day: date,
    today: Mapping[str, Snapshot],
    names: Mapping[str, str],
    kpi: _Kpis,
    movers: WeekMovers,
    notes: Mapping[str, str],
    platform: str = "slack",
) -> Card:
    shown = list(today.values())
    lists = compose_digest(day, shown, names, title=title, notes=notes, platform=platform)
    # What needs a human first, then the portfolio, and how it was computed last.
    sections = (
        _kpi_section(kpi.headline()),
        *(s for s in lists.sections if s.title),  # its untitled overview repeats the bands
        _movers_section(movers, names, platform),
        _count_section("Accounts by band", kpis.counts_by_band(shown)),
        _count_section("Accounts by tier", kpis.counts_by_tier(shown)),
        _cohort_section(kpi.churn),
        _how_section(kpi.headline()),
    )
    return Card(
        title=title,
        summary=_summary(title, day, len(shown), kpi),
        sections=sections,
        footer=f"Health as scored on {day}; revenue periods end that day. "
        f"Type {command(platform, '/health')} <account> for any line.",
    )


def _summary(title: str, day: date, accounts: int, kpi: _Kpis) -> str:
    parts = [f"{title} for {day}: {accounts:,} accounts"]
    if kpi.nrr.available:
        parts.append(f"net revenue retention {kpi.nrr.text()} ({kpi.nrr.basis})")
    if kpi.churn.overall.available:
        parts.append(f"{kpi.churn.overall.text()} churned this quarter")
    return ", ".join(parts) + "."


def _label(k: Kpi) -> str:
    return f"{k.name} ({k.basis})" if k.basis else k.name


def _kpi_section(headline: Sequence[Kpi]) -> Section:
    return Section(
        title="Portfolio KPIs",
        facts=tuple(Fact(_label(k), k.text()) for k in headline),
    )


def _how_section(headline: Sequence[Kpi]) -> Section:
    seen: set[str] = set()
    lines = []
    for k in headline:
        if k.explanation not in seen:  # KPIs without data share their reason
            seen.add(k.explanation)
            lines.append(f"{k.name}: {k.explanation}")
    return Section(title="How these were computed", items=tuple(lines), folded=True)


def _cohort_section(churn: CohortChurn) -> Section:
    facts = tuple(
        Fact(c.label(), f"{c.churned} of {c.accounts} churned ({c.rate:.0%})")
        for c in churn.cohorts
    )
    return Section(title="Churn by usage cohort", text=churn.explanation, facts=facts)


def _count_section(title: str, counts: Mapping[str, int]) -> Section:
    return Section(
        title=title, facts=tuple(Fact(key.capitalize(), f"{n:,}") for key, n in counts.items())
    )


def _movers_section(movers: WeekMovers, names: Mapping[str, str], platform: str) -> Section:
    # Five lines at most: the falls first need a human, then the largest rises.
    lines = [
        *(_move_line("Down", m, names, platform) for m in movers.down[:MOVERS_DOWN]),
        *(_move_line("Up", m, names, platform) for m in movers.up[:MOVERS_UP]),
    ]
    text = movers.explanation if movers.available else f"No movers: {movers.explanation}"
    links = tuple(link for _, link in lines)
    return Section(
        title="Movers this week",
        text=text,
        items=tuple(line for line, _ in lines),
        links=links if any(links) else (),
    )


def _move_line(
    way: str, move: Move, names: Mapping[str, str], platform: str
) -> tuple[str, Button | None]:
    name = names.get(move.account_id, move.account_id)
    why = f"; {move.why}" if move.why else ""
    text = f"{way}: {name}: {move.change:+.1f} (from {move.before:.1f} to {move.after:.1f}){why}"
    return account_line(text, move.account_id, name, platform)
