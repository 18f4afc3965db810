"""The manager digest over a book sent through ingestion and scored like production."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.adapters.slack.render import to_message
from core.messages import ButtonValue, Card, Section
from digests.manager import manager_digest
from signals.commit import contract_in_force
from signals.config import ScoringConfig
from signals.model import Snapshot
from signals.portfolio import periods_for
from signals.series import window_sum
from storage import history, snapshots
from storage import portfolio as store
from tests.support.slack_world import END, START, Book, seed_book, texts, valid_blocks

CONFIG = ScoringConfig.from_mapping({})
WEEK_AGO = END - timedelta(days=7)


@pytest.fixture
def book(db: Engine) -> Book:
    return seed_book(db)


def scored(db: Engine) -> tuple[dict[str, Snapshot], dict[str, Snapshot]]:
    with db.connect() as conn:
        return snapshots.snapshots_on(conn, day=END), snapshots.snapshots_on(conn, day=WEEK_AGO)


def section(card: Card, title: str) -> Section:
    found = [s for s in card.sections if s.title == title]
    assert len(found) == 1, [s.title for s in card.sections]
    return found[0]


def facts(card: Card, title: str) -> dict[str, str]:
    return {f.label: f.value for f in section(card, title).facts}


def names(db: Engine) -> dict[str, str]:
    with db.connect() as conn:
        return {u.account.id: u.account.name for u in store.account_usage(conn, periods={})}


def test_period_totals_match_the_daily_rollups(book: Book, db: Engine) -> None:
    periods = periods_for(END).named()
    with db.connect() as conn:
        usage = {u.account.id: u for u in store.account_usage(conn, periods=periods)}
        data = list(history.iter_account_data(conn, until=END))
        span = history.data_span(conn)
        assert span is not None
        assert store.first_usage_day(conn) == span[0] <= START
    assert set(usage) == {d.account.id for d in data}
    for d in data:
        for name, period in periods.items():
            for m in d.metrics:
                expected = window_sum(m.days, m.quantity, period.first, period.last)
                got = usage[d.account.id].quantity.get(name, {}).get(m.metric, 0.0)
                assert got == pytest.approx(expected), (d.account.id, name, m.metric)
            events = sum(window_sum(m.days, m.events, period.first, period.last) for m in d.metrics)
            assert usage[d.account.id].events_in(name) == events
        assert usage[d.account.id].contracts == d.contracts


def test_the_digest_shows_the_kpis_of_the_scored_book(book: Book, db: Engine) -> None:
    card = manager_digest(db, day=END, config=CONFIG)
    today, _ = scored(db)

    kpis = facts(card, "Portfolio KPIs")
    # 200 days of usage: not a year, but two quarters
    assert kpis["Net revenue retention (quarter over quarter)"] == f"{expected_nrr(db):.0%}"
    for label in ("Expansion rate", "Contraction rate", "Churn rate"):
        assert kpis[label].endswith("%"), label
    assert kpis["Median time to value"].endswith(" days")
    how = section(card, "How these were computed").items
    assert any(f"of the {len(today)} accounts with revenue" in line for line in how)

    cohorts = facts(card, "Churn by usage cohort")
    assert [label.split(" ")[0] for label in cohorts] == ["Q1", "Q2", "Q3", "Q4"]
    churned = sum(int(value.split(" of ")[0]) for value in cohorts.values())
    in_cohorts = sum(int(value.split(" of ")[1].split(" ")[0]) for value in cohorts.values())
    assert f"{churned} of the {in_cohorts} accounts" in " ".join(how)

    assert card.footer is not None
    assert str(END) in card.footer
    assert card.summary.startswith(f"Manager digest for {END}: {len(today)} accounts")


def expected_nrr(db: Engine) -> float:
    """Quarter-over-quarter NRR from the full daily history, at each period's prices."""
    periods = periods_for(END)
    before = after = 0.0
    with db.connect() as conn:
        for data in history.iter_account_data(conn, until=END):
            spent = []
            for period in (periods.prior_quarter, periods.current):
                # the contract in force then, else (a term that began later) today's
                terms = contract_in_force(data.contracts, period.last) or contract_in_force(
                    data.contracts, END
                )
                assert terms is not None
                assert terms.unit_prices
                spent.append(
                    sum(
                        terms.unit_prices.get(m.metric, 0.0)
                        * window_sum(m.days, m.quantity, period.first, period.last)
                        for m in data.metrics
                    )
                )
            if spent[0] > 0:
                before += spent[0]
                after += spent[1]
    assert before > 0
    return after / before


def test_tier_and_band_counts_are_the_snapshot_counts(book: Book, db: Engine) -> None:
    card = manager_digest(db, day=END, config=CONFIG)
    today, _ = scored(db)
    tiers = {k.lower(): int(v) for k, v in facts(card, "Accounts by tier").items()}
    bands = {k.lower(): int(v) for k, v in facts(card, "Accounts by band").items()}
    assert {k: n for k, n in tiers.items() if n} == Counter(s.tier for s in today.values())
    assert {k: n for k, n in bands.items() if n} == Counter(s.band for s in today.values())
    assert sum(tiers.values()) == sum(bands.values()) == book.count


def test_movers_are_the_largest_weekly_changes_in_order(book: Book, db: Engine) -> None:
    card = manager_digest(db, day=END, config=CONFIG)
    today, week_ago = scored(db)
    named = names(db)
    change = {a: today[a].score - week_ago[a].score for a in today if a in week_ago}
    # five lines: the three largest falls, then the two largest rises
    rises = sorted((a for a in change if change[a] >= 1), key=lambda a: (-change[a], a))[:2]
    falls = sorted((a for a in change if change[a] <= -1), key=lambda a: (change[a], a))[:3]
    assert rises
    assert falls

    movers = section(card, "Movers this week")
    items = movers.items
    up = [line for line in items if line.startswith("Up: ")]
    down = [line for line in items if line.startswith("Down: ")]
    assert [line.split(": ")[1] for line in up] == [named[a] for a in rises]
    assert [line.split(": ")[1] for line in down] == [named[a] for a in falls]
    assert items == (*down, *up)
    opened = [ButtonValue.decode(b.value).account_id for b in movers.links if b]
    assert opened == [*falls, *rises]  # on Slack each line opens its account
    for account, line in zip([*rises, *falls], [*up, *down], strict=True):
        reason = today[account].explained("movers")
        if reason:
            assert reason[0] in line


def test_the_account_lists_of_the_daily_digest_follow_the_kpis(book: Book, db: Engine) -> None:
    card = manager_digest(db, day=END, config=CONFIG)
    titles = [s.title or "" for s in card.sections]
    lists = [i for i, t in enumerate(titles) if t.startswith(("Renewals", "Needs attention"))]
    assert lists
    # what needs a human before the portfolio figures; the method last
    assert max(lists) < titles.index("Movers this week")
    assert titles[-1] == "How these were computed"
    assert card.sections[-1].folded  # Teams keeps the method behind a button
    for section in card.sections:
        accounts = [i for i in section.items if "→ /health" in i]
        assert len(accounts) <= 5, section.title
    message = to_message(card)
    valid_blocks(message)
    assert "not shown" not in texts(message)


def test_account_ids_restrict_every_figure_and_list(book: Book, db: Engine) -> None:
    today, _ = scored(db)
    named = names(db)
    chosen = sorted(today)[:8]
    card = manager_digest(db, day=END, config=CONFIG, account_ids=chosen, title="Casey's book")

    assert sum(int(v) for v in facts(card, "Accounts by band").values()) == 8
    assert sum(int(v) for v in facts(card, "Accounts by tier").values()) == 8
    how = " ".join(section(card, "How these were computed").items)
    assert "of the 8 accounts with revenue" in how
    shown = texts(to_message(card))
    for account in set(today) - set(chosen):
        assert f"/health {named[account]}" not in shown
    assert card.title == "Casey's book"


def test_a_day_without_scores_says_so(book: Book, db: Engine) -> None:
    card = manager_digest(db, day=END + timedelta(days=1), config=CONFIG)
    assert card.sections == ()
    assert "No account was scored" in card.summary
    none = manager_digest(db, day=END, config=CONFIG, account_ids=["no-such-account"])
    assert "None of these accounts was scored" in none.summary
