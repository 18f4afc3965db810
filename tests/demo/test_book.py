"""The synthetic book of customers: deterministic, valid payloads, shapes visible in the raw
events, and the whole book through the real ingestion API into the rollups."""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from demo.book import (
    CHURN_LEVEL,
    SHAPE_MIX,
    SHAPES,
    Book,
    book_payload_batches,
    generate_book,
    iter_events,
)
from handlers.api.schemas import AccountIn, ContractIn, EventIn, TicketIn
from storage import tables
from tests.support.paths import ROOT
from tests.support.sender import Sender

START = date(2025, 1, 1)  # a year that ended before the tests run: the API refuses the future


def digest(book: Book) -> str:
    """A fingerprint of every payload of the book and its truth."""
    h = hashlib.sha256()
    for kind, batch in book_payload_batches(book, batch_size=500):
        h.update(kind.encode())
        h.update(orjson.dumps(batch))
    h.update(repr(sorted(book.truth.items())).encode())
    return h.hexdigest()


def small(seed: int = 11, **kwargs: Any) -> Book:
    params: dict[str, Any] = {"accounts": 20, "start": date(2025, 6, 1), "days": 120}
    params.update(kwargs)
    return generate_book(seed=seed, **params)


def test_same_seed_same_book_in_any_process() -> None:
    first = small()
    again = small()
    assert first.accounts == again.accounts
    assert first.contracts == again.contracts
    assert first.tickets == again.tickets
    assert first.truth == again.truth
    assert list(iter_events(first)) == list(iter_events(again))
    expected = digest(first)
    # Another interpreter, with another string-hash seed, makes the very same book.
    code = "from tests.demo.test_book import digest, small; print(digest(small()))"
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert out.stdout.strip() == expected


def test_another_seed_another_book() -> None:
    one, other = small(seed=11), small(seed=12)
    assert [a["name"] for a in one.accounts] != [a["name"] for a in other.accounts]
    assert digest(one) != digest(other)
    assert [e["quantity"] for e in iter_events(one)][:200] != [
        e["quantity"] for e in iter_events(other)
    ][:200]


def test_every_payload_is_valid_for_the_api() -> None:
    book = generate_book(seed=5, accounts=40, start=START, days=365)
    accounts = [AccountIn.model_validate(a) for a in book.accounts]
    contracts = [ContractIn.model_validate(c) for c in book.contracts]
    tickets = [TicketIn.model_validate(t) for t in book.tickets]
    ids = {a.id for a in accounts}
    assert len(ids) == len({a.name for a in accounts}) == 40
    assert {c.account for c in contracts} == ids
    assert {t.account for t in tickets} <= ids
    assert len({t.id for t in tickets}) == len(tickets)
    assert {a.segment for a in accounts} == {"smb", "mid-market", "enterprise"}
    for contract in contracts:
        assert (contract.end_date - contract.start_date).days == 364  # end is the last day
        assert set(contract.unit_prices) == set(book.metrics)
    end = datetime.combine(book.end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    seen: set[str] = set()
    previous = None
    count = 0
    for raw in iter_events(book):
        event = EventIn.model_validate(raw)
        assert event.id not in seen
        seen.add(event.id)
        assert event.account in ids
        assert event.quantity > 0
        assert event.user
        assert event.feature
        assert event.team
        assert (event.success is not None) == (event.metric == "resolutions")
        assert event.timestamp.utcoffset() is not None
        if previous is not None:
            assert event.timestamp >= previous  # in time order
        previous = event.timestamp
        count += 1
    assert previous is not None
    assert previous < end + timedelta(hours=14)
    assert count == len(seen) > 40 * 365


def test_payload_batches_come_in_ingestion_order() -> None:
    book = small()
    batches = list(book_payload_batches(book, batch_size=7))
    kinds = [kind for kind, _ in batches]
    order = ["accounts", "contracts", "tickets", "events"]
    assert kinds == sorted(kinds, key=order.index)
    assert set(kinds) == set(order)
    assert all(0 < len(items) <= 7 for _, items in batches)
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kind, items in batches:
        by_kind[kind].extend(items)
    assert by_kind["accounts"] == book.accounts
    assert by_kind["tickets"] == book.tickets
    assert by_kind["events"] == list(iter_events(book))


def test_event_volume_is_controllable_without_changing_quantities() -> None:
    def totals(book: Book) -> tuple[int, dict[tuple[str, str], float]]:
        sums: dict[tuple[str, str], float] = defaultdict(float)
        n = 0
        for e in iter_events(book):
            sums[e["account"], e["metric"]] += e["quantity"]
            n += 1
        return n, dict(sums)

    n_default, default = totals(small())
    n_capped, capped = totals(small(events_per_day_cap=3))
    n_more, more = totals(small(event_scale=2.0))
    assert n_capped < n_default / 2
    assert n_more > n_default * 1.5
    assert default == capped == more


def test_shape_mix_and_truth_labels() -> None:
    book = generate_book(seed=1, accounts=200, start=START)
    counts = Counter(t.shape for t in book.truth.values())
    assert set(counts) == set(SHAPES)
    for shape, weight in SHAPE_MIX.items():
        assert abs(counts[shape] - weight * 200) <= 1
    only = generate_book(seed=1, accounts=10, start=START, mix={"declining": 1.0})
    assert {t.shape for t in only.truth.values()} == {"declining"}

    for truth in book.truth.values():
        assert truth.churns == (truth.churn_date is not None)
        assert truth.expands == (truth.expand_date is not None)
        if truth.shape in ("declining", "dormant"):
            assert truth.churns
            assert not truth.expands
            assert truth.change_date is not None
            assert truth.churn_date is not None
            assert truth.change_date <= truth.churn_date
            assert truth.label(truth.change_date - timedelta(days=120), 90) == "stable"
            assert truth.label(truth.churn_date - timedelta(days=30), 90) == "churn"
            assert truth.label(truth.churn_date, 90) == "churned"
        elif truth.shape in ("growing", "early_exhaust", "new_use_case"):
            assert truth.expands
            assert not truth.churns
            assert truth.expand_date is not None
            assert truth.label(truth.expand_date - timedelta(days=1), 30) == "expand"
            assert truth.label(truth.expand_date, 30) == "expanded"
        else:
            assert not truth.churns
            assert not truth.expands
            assert truth.label(book.start, 365) == "stable"
    churners = [t for t in book.truth.values() if t.churns]
    warned = [t for t in churners if t.warning_date is not None]
    assert 0 < len(warned) < len(churners)  # most churners warn, not all


@dataclass
class Observed:
    """What the raw events of a book show, per account and local day."""

    book: Book
    events: int = 0
    spend: dict[str, list[float]] = field(default_factory=dict)
    users: dict[str, list[set[str]]] = field(default_factory=dict)  # per week
    features: dict[str, list[set[str]]] = field(default_factory=dict)  # per week
    first_seen: dict[tuple[str, str], int] = field(default_factory=dict)  # (account, team) -> day

    def mean(self, account: str, lo: int, hi: int) -> float:
        days = self.spend[account][max(0, lo) : hi]
        return sum(days) / len(days)

    def weekly(self, series: dict[str, list[set[str]]], account: str, lo: int, hi: int) -> float:
        weeks = series[account][max(0, lo) : max(0, hi)]
        return sum(len(w) for w in weeks) / len(weeks) if weeks else float("nan")


@pytest.fixture(scope="module")
def default_book() -> Observed:
    """The default book (300 accounts, 365 days), its events streamed once and summed."""
    return observe(generate_book(seed=2026, start=START))


def observe(book: Book) -> Observed:
    seen = Observed(book)
    prices = {c["account"]: c["unit_prices"] for c in book.contracts}
    weeks = book.days // 7 + 1
    for account in prices:
        seen.spend[account] = [0.0] * book.days
        seen.users[account] = [set() for _ in range(weeks)]
        seen.features[account] = [set() for _ in range(weeks)]
    day_of = {(book.start + timedelta(days=t)).isoformat(): t for t in range(book.days)}
    for e in iter_events(book):
        a = e["account"]
        t = day_of[e["timestamp"][:10]]  # the account's local day
        seen.spend[a][t] += e["quantity"] * prices[a][e["metric"]]
        seen.users[a][t // 7].add(e["user"])
        seen.features[a][t // 7].add(e["feature"])
        seen.first_seen.setdefault((a, e["team"]), t)
        seen.events += 1
    return seen


def accounts_of(seen: Observed, *shapes: str) -> list[str]:
    found = [a for a, t in seen.book.truth.items() if t.shape in shapes]
    assert found, shapes
    return found


def test_default_book_stays_small(default_book: Observed) -> None:
    assert 300_000 < default_book.events <= 1_500_000  # its speed: bench/, not a timed test


def test_declining_accounts_fall_far_below_their_first_quarter(default_book: Observed) -> None:
    for account in accounts_of(default_book, "declining"):
        truth = default_book.book.truth[account]
        assert truth.change_day is not None
        before = default_book.mean(account, 0, 90)
        assert default_book.mean(account, 0, truth.change_day) > 0.6 * before
        assert default_book.mean(account, 365 - 28, 365) < CHURN_LEVEL * before, account


def test_dormant_accounts_stop_dead(default_book: Observed) -> None:
    for account in accounts_of(default_book, "dormant"):
        stop = default_book.book.truth[account].change_day
        assert stop is not None
        spend = default_book.spend[account]
        assert sum(spend[stop:]) == 0
        assert sum(spend[stop - 7 : stop]) > 0


def test_commits_run_out_early_or_lag_as_planned(default_book: Observed) -> None:
    book = default_book.book
    contracts = {c["account"]: c for c in book.contracts}
    for account, truth in book.truth.items():
        contract = contracts[account]
        first = (date.fromisoformat(contract["start_date"]) - book.start).days
        spent = default_book.spend[account][first:]
        cumulative = [sum(spent[: n + 1]) for n in range(len(spent))]
        commit = contract["committed_amount"]
        if truth.exhaust_date is None:
            assert cumulative[-1] < commit
        else:  # the truth's date is the day the raw events exhaust the commit
            day = (truth.exhaust_date - book.start).days - first
            assert cumulative[day] >= commit * (1 - 1e-9)
            assert day == 0 or cumulative[day - 1] < commit * (1 + 1e-9)
        if truth.shape == "early_exhaust":
            term_end = date.fromisoformat(contract["end_date"])
            assert truth.exhaust_date is not None
            assert truth.exhaust_date <= term_end - timedelta(days=90)
            assert truth.commit_pace > 1.5
        if truth.shape == "under_use":
            assert truth.exhaust_date is None
            assert truth.commit_pace < 0.5
            assert cumulative[-1] < 0.5 * commit * len(spent) / 365


def test_spiky_accounts_blow_through_their_budget(default_book: Observed) -> None:
    budgets = {c["account"]: c["monthly_budget"] for c in default_book.book.contracts}
    for account in accounts_of(default_book, "spiky"):
        truth = default_book.book.truth[account]
        assert truth.bill_shock_date is not None
        assert truth.change_day is not None
        spend = default_book.spend[account]
        rolling = [sum(spend[max(0, t - 29) : t + 1]) for t in range(len(spend))]
        assert max(rolling[: truth.change_day]) < budgets[account]
        assert max(rolling[truth.change_day :]) > 1.5 * budgets[account]
        assert max(spend[truth.change_day :]) > 5 * default_book.mean(account, 0, 90)


def test_growth_and_new_use_cases_show(default_book: Observed) -> None:
    book = default_book.book
    ahead = []
    for account in accounts_of(default_book, "growing", "early_exhaust", "new_use_case"):
        truth = book.truth[account]
        assert truth.change_day is not None
        assert default_book.mean(account, 365 - 60, 365) > 1.3 * default_book.mean(account, 0, 60)
        teams = [team for (a, team), _ in default_book.first_seen.items() if a == account]
        new_teams = [team for team in teams if default_book.first_seen[account, team] >= 7]
        assert new_teams, account  # a team that was not there at the start
        if truth.warning_date is not None:  # ... shows up before the change
            first = min(default_book.first_seen[account, team] for team in new_teams)
            ahead.append(first < truth.change_day)
    assert sum(ahead) >= 0.9 * len(ahead)
    for account in accounts_of(default_book, "new_use_case"):
        change = book.truth[account].change_day
        assert change is not None
        early = set().union(*default_book.features[account][: max(1, (change - 30) // 7)])
        late = set().union(*default_book.features[account][(change + 21) // 7 :])
        assert late - early, account  # a feature nobody used before


def test_slow_starters_wait_weeks_for_value(default_book: Observed) -> None:
    book = default_book.book
    since = {a["id"]: date.fromisoformat(a["customer_since"]) for a in book.accounts}
    for account in accounts_of(default_book, "slow_start"):
        truth = book.truth[account]
        assert truth.first_value_date is not None
        signed = (since[account] - book.start).days
        value = (truth.first_value_date - book.start).days
        assert value - signed >= 21
        spend = default_book.spend[account]
        assert sum(spend[:signed]) == 0
        assert sum(spend[signed:value]) < 0.05 * sum(spend[value : value + 60])


def test_steady_and_seasonal_accounts_keep_their_level(default_book: Observed) -> None:
    for account in accounts_of(default_book, "steady", "seasonal", "under_use"):
        ratio = default_book.mean(account, 365 - 120, 365) / default_book.mean(account, 0, 120)
        assert 0.6 < ratio < 1.6, account

    def swing(shape: str) -> float:
        """The median over accounts of the variation of weekly spend (holidays aside)."""
        variations = []
        for account in accounts_of(default_book, shape):
            weeks = [default_book.mean(account, w * 7, w * 7 + 7) for w in range(1, 51)]
            variations.append(statistics.pstdev(weeks) / statistics.mean(weeks))
        return statistics.median(variations)

    assert swing("seasonal") > 1.6 * swing("steady")


def test_weekdays_are_busier_than_weekends(default_book: Observed) -> None:
    book = default_book.book
    weekday = weekend = 0.0
    for spend in default_book.spend.values():
        for t, amount in enumerate(spend):
            if (book.start + timedelta(days=t)).weekday() >= 5:
                weekend += amount / 2
            else:
                weekday += amount / 5
    assert weekday > 1.8 * weekend
    by_segment: dict[str, list[float]] = defaultdict(list)
    for account, truth in book.truth.items():
        by_segment[truth.segment].append(default_book.mean(account, 0, 365))
    median = {s: sorted(v)[len(v) // 2] for s, v in by_segment.items()}
    assert median["smb"] * 3 < median["mid-market"] < median["enterprise"] / 3


def test_leading_indicators_come_before_churn(default_book: Observed) -> None:
    """Warned churners lose users, features and send angry tickets weeks ahead; the others
    (silent churners and healthy accounts) mostly do not."""
    book = default_book.book
    tickets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ticket in book.tickets:
        tickets[ticket["account"]].append(ticket)

    def angry(account: str, lo: int, hi: int) -> int:
        return sum(
            1
            for t in tickets[account]
            if t["priority"] in ("high", "urgent")
            and lo <= (date.fromisoformat(t["opened_at"][:10]) - book.start).days < hi
        )

    shrink, narrower, warned_angry = [], [], []
    for account in accounts_of(default_book, "declining", "dormant"):
        truth = book.truth[account]
        if truth.warning_date is None or truth.change_day is None:
            continue
        week = truth.change_day // 7
        before = default_book.weekly(default_book.users, account, week - 16, week - 8)
        ahead = default_book.weekly(default_book.users, account, week - 2, week)
        shrink.append(ahead < before)
        f_before = default_book.weekly(default_book.features, account, week - 16, week - 8)
        f_ahead = default_book.weekly(default_book.features, account, week - 2, week)
        narrower.append(f_ahead <= f_before)
        warned_angry.append(angry(account, truth.change_day - 42, truth.change_day + 11) > 0)
    assert len(shrink) >= 10
    assert sum(shrink) >= 0.7 * len(shrink)
    assert sum(narrower) >= 0.8 * len(narrower)
    assert sum(warned_angry) >= 0.8 * len(warned_angry)

    healthy = accounts_of(default_book, "steady", "seasonal", "under_use")
    healthy_angry = [angry(a, 150, 203) > 0 for a in healthy]
    assert 0 < sum(healthy_angry) < 0.4 * len(healthy)  # bad tickets happen without churn


def test_small_book_through_the_ingestion_api(sender: Sender, db: Engine) -> None:
    book = small(seed=3)
    expected: dict[tuple[str, str, date], list[float]] = defaultdict(lambda: [0.0, 0])
    sent = Counter[str]()
    for kind, items in book_payload_batches(book, batch_size=2000):
        response = sender.signed(f"/v1/{kind}", {kind: items})
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(items)
        sent[kind] += len(items)
        if kind == "events":
            for e in items:
                day = datetime.fromisoformat(e["timestamp"]).astimezone(UTC).date()
                expected[e["account"], e["metric"], day][0] += e["quantity"]
                expected[e["account"], e["metric"], day][1] += 1

    with db.connect() as conn:
        daily = conn.execute(
            sa.select(
                tables.usage_daily.c.account_id,
                tables.usage_daily.c.metric,
                tables.usage_daily.c.day,
                tables.usage_daily.c.quantity,
                tables.usage_daily.c.events,
            )
        ).all()
        placeholders = conn.scalar(
            sa.select(sa.func.count())
            .select_from(tables.accounts)
            .where(tables.accounts.c.is_placeholder.is_(True))
        )
        stored = {
            name: conn.scalar(sa.select(sa.func.count()).select_from(table))
            for name, table in (
                ("accounts", tables.accounts),
                ("contracts", tables.contracts),
                ("tickets", tables.support_tickets),
                ("events", tables.usage_events),
            )
        }
    assert stored == dict(sent)
    assert placeholders == 0
    got = {(r.account_id, r.metric, r.day): [r.quantity, r.events] for r in daily}
    assert got == {key: [q, n] for key, (q, n) in expected.items()}

    account = book.accounts[0]["id"]
    usage = sender.get(
        f"/v1/accounts/{account}/usage", start=book.start.isoformat(), end=book.end.isoformat()
    ).json()
    for metric, series in usage["metrics"].items():
        for row in series:
            key = (account, metric, date.fromisoformat(row["date"]))
            assert [row["quantity"], row["events"]] == expected[key]
