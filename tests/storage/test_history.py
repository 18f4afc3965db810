"""storage.history and storage.snapshots: accounts with their history, and the snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from signals.model import AccountData, ContractTerms, DimensionActivity, MetricSeries, Snapshot
from signals.model import Ticket as TicketRecord
from storage import history, repository, tables
from storage.db import write_transaction
from storage.snapshots import (
    latest_snapshots_before,
    snapshot_history,
    snapshots_on,
    write_snapshots,
)
from tests.support.sender import Sender

_ids = itertools.count()
COMPUTED = datetime(2025, 3, 10, 6, 0, tzinfo=UTC)


def usage(
    account: str, metric: str, timestamp: str, quantity: float, **fields: Any
) -> dict[str, Any]:
    return {
        "id": f"evt_{next(_ids)}",
        "account": account,
        "metric": metric,
        "timestamp": timestamp,
        "quantity": quantity,
        **fields,
    }


def post(sender: Sender, kind: str, items: list[dict[str, Any]]) -> None:
    response = sender.signed(f"/v1/{kind}", {kind: items})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(items)


def load(db: Engine, **options: Any) -> list[AccountData]:
    with db.connect() as conn:
        return list(history.iter_account_data(conn, **options))


def by_metric(data: AccountData) -> dict[str, MetricSeries]:
    return {series.metric: series for series in data.metrics}


def by_dimension(data: AccountData) -> dict[tuple[str, str], DimensionActivity]:
    return {(a.dimension, a.value): a for a in data.dimensions}


D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


@pytest.fixture
def acme(sender: Sender) -> None:
    """One account from the CRM with usage on three days, two contracts and two tickets."""
    post(
        sender,
        "accounts",
        [
            {
                "id": "acme",
                "name": "Acme Corp",
                "segment": "enterprise",
                "arr": 120000,
                "csm": "U024BE7LH",
                "ae": "ae@example.com",
                "customer_since": "2024-01-15",
                "go_live_date": "2024-02-01",
                "renewal_date": "2026-01-15",
            }
        ],
    )
    chat = {"feature": "chat", "user": "u1", "team": "ops"}
    post(
        sender,
        "events",
        [
            usage("acme", "tokens", "2025-03-01T10:00:00Z", 100.0, success=True, **chat),
            # 04:30 UTC on 2 March: days are UTC days
            usage(
                "acme",
                "tokens",
                "2025-03-01T23:30:00-05:00",
                50.0,
                success=False,
                feature="chat",
                user="u2",
            ),
            usage("acme", "tokens", "2025-03-03T12:00:00Z", 25.0, feature="search", user="u1"),
            usage("acme", "calls", "2025-03-01T11:00:00Z", 1.0, success=True, **chat),
            usage("acme", "calls", "2025-03-02T11:00:00Z", 2.0),
        ],
    )
    post(
        sender,
        "contracts",
        [
            {
                "id": "ctr_2025",
                "account": "acme",
                "start_date": "2025-01-15",
                "end_date": "2026-01-14",
                "committed_amount": 90000,
                "unit_prices": {"tokens": 0.002, "calls": 0.5},
                "monthly_budget": 8000,
            },
            {
                "id": "ctr_2024",
                "account": "acme",
                "kind": "prepaid_credits",
                "start_date": "2024-01-15",
                "end_date": "2025-01-14",
                "committed_amount": 60000,
                "currency": "EUR",
            },
        ],
    )
    post(
        sender,
        "tickets",
        [
            {
                "id": "tkt_late",
                "account": "acme",
                "status": "open",
                "priority": "urgent",
                "opened_at": "2025-03-03T00:00:00Z",
            },
            {
                "id": "tkt_early",
                "account": "acme",
                "status": "solved",
                "opened_at": "2025-03-02T23:59:59Z",
                "solved_at": "2025-03-04T09:00:00Z",
                "csat": 4,
            },
        ],
    )


@pytest.mark.usefixtures("acme")
def test_ingested_account_comes_back_whole(db: Engine) -> None:
    [data] = load(db)

    info = data.account
    assert (info.id, info.name, info.segment, info.arr) == (
        "acme",
        "Acme Corp",
        "enterprise",
        120000,
    )
    assert (info.csm, info.ae) == ("U024BE7LH", "ae@example.com")
    assert (info.customer_since, info.go_live_date) == (date(2024, 1, 15), date(2024, 2, 1))
    assert (info.renewal_date, info.churned_date) == (date(2026, 1, 15), None)
    tokens = by_metric(data)["tokens"]
    assert (tokens.days, tokens.quantity, tokens.events) == (
        (D1, D2, D3),
        (100.0, 50.0, 25.0),
        (1, 1, 1),
    )
    assert (tokens.successes, tokens.failures) == ((1, 0, 0), (0, 1, 0))
    assert by_metric(data)["calls"] == MetricSeries(
        "calls", (D1, D2), (1.0, 2.0), (1, 1), (1, 0), (0, 0)
    )
    assert len(data.metrics) == 2
    assert data.contracts == (
        ContractTerms(
            id="ctr_2024",
            start=date(2024, 1, 15),
            end=date(2025, 1, 14),
            committed_amount=60000.0,
            kind="prepaid_credits",
            currency="EUR",
        ),
        ContractTerms(
            id="ctr_2025",
            start=date(2025, 1, 15),
            end=date(2026, 1, 14),
            committed_amount=90000.0,
            unit_prices={"tokens": 0.002, "calls": 0.5},
            monthly_budget=8000.0,
        ),
    )
    assert data.tickets == (
        TicketRecord(
            id="tkt_early",
            status="solved",
            priority="normal",
            opened_at=datetime(2025, 3, 2, 23, 59, 59, tzinfo=UTC),
            solved_at=datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
            csat=4,
        ),
        TicketRecord("tkt_late", "open", "urgent", opened_at=datetime(2025, 3, 3, tzinfo=UTC)),
    )


@pytest.mark.usefixtures("acme")
def test_activity_is_summed_over_metrics_per_dimension_value_and_day(db: Engine) -> None:
    [data] = load(db)

    assert by_dimension(data) == {
        # 1 March: one tokens and one calls event, both successful
        ("feature", "chat"): DimensionActivity("feature", "chat", (D1, D2), (2, 1), (2, 0), (0, 1)),
        ("feature", "search"): DimensionActivity("feature", "search", (D3,), (1,), (0,), (0,)),
        ("team", "ops"): DimensionActivity("team", "ops", (D1,), (2,), (2,), (0,)),
        ("user", "u1"): DimensionActivity("user", "u1", (D1, D3), (2, 1), (2, 0), (0, 0)),
        ("user", "u2"): DimensionActivity("user", "u2", (D2,), (1,), (0,), (1,)),
    }


@pytest.mark.usefixtures("acme")
def test_window_keeps_the_days_between_both_ends_inclusive(db: Engine) -> None:
    [data] = load(db, since=D2, until=D2)

    assert by_metric(data) == {
        "tokens": MetricSeries("tokens", (D2,), (50.0,), (1,), (0,), (1,)),
        "calls": MetricSeries("calls", (D2,), (2.0,), (1,), (0,), (0,)),
    }
    assert by_dimension(data) == {
        ("feature", "chat"): DimensionActivity("feature", "chat", (D2,), (1,), (0,), (1,)),
        ("user", "u2"): DimensionActivity("user", "u2", (D2,), (1,), (0,), (1,)),
    }
    assert [c.id for c in data.contracts] == ["ctr_2024", "ctr_2025"]  # whatever their term
    assert [t.id for t in data.tickets] == ["tkt_early"]  # opened at 23:59:59 on `until`


@pytest.mark.usefixtures("acme")
def test_users_since_drops_older_user_days_but_keeps_features_and_teams_whole(
    db: Engine,
) -> None:
    [data] = load(db, users_since=D2)

    dims = by_dimension(data)
    assert dims[("user", "u1")].days == (D3,)  # its 1 March day is not read
    assert dims[("user", "u2")].days == (D2,)
    assert dims[("feature", "chat")].days == (D1, D2)  # first use still known
    assert dims[("team", "ops")].days == (D1,)
    assert by_metric(data)["tokens"].days == (D1, D2, D3)  # usage itself untouched


@pytest.mark.usefixtures("acme")
def test_open_ended_windows(db: Engine) -> None:
    [since] = load(db, since=D2)
    [until] = load(db, until=D1)

    assert {m.metric: m.days for m in since.metrics} == {"tokens": (D2, D3), "calls": (D2,)}
    assert {m.metric: m.days for m in until.metrics} == {"tokens": (D1,), "calls": (D1,)}
    assert until.tickets == ()
    assert [t.id for t in since.tickets] == ["tkt_early", "tkt_late"]


def test_account_without_usage_has_empty_history(sender: Sender, db: Engine) -> None:
    post(sender, "accounts", [{"id": "quiet", "name": "Quiet Ltd"}])

    [data] = load(db, since=D1, until=D3)

    assert (data.account.id, data.account.name) == ("quiet", "Quiet Ltd")
    assert (data.metrics, data.dimensions, data.contracts, data.tickets) == ((), (), (), ())


def five_accounts(sender: Sender) -> dict[str, float]:
    """Accounts whose usage differs by account, one of them without any; {id: quantity}."""
    quantities = {"a1": 1.0, "a2": 2.0, "a3": 3.0, "a5": 5.0}
    post(sender, "accounts", [{"id": "a4", "name": "No usage"}])
    post(
        sender,
        "events",
        [
            usage(account, metric, f"2025-01-0{day}T12:00:00Z", quantity, user=f"{account}-user")
            for account, quantity in quantities.items()
            for metric in ("calls", "tokens")
            for day in (1, 2)
        ],
    )
    post(
        sender,
        "tickets",
        [
            {"id": f"t-{a}", "account": a, "status": "new", "opened_at": "2025-01-02T00:00:00Z"}
            for a in ("a2", "a3")
        ],
    )
    return quantities


def test_batches_cover_every_account_once_in_id_order(sender: Sender, db: Engine) -> None:
    quantities = five_accounts(sender)

    batched = load(db, batch_size=2)

    assert [d.account.id for d in batched] == ["a1", "a2", "a3", "a4", "a5"]
    assert batched == load(db)
    for data in batched:
        expected = quantities.get(data.account.id)
        if expected is None:
            assert (data.metrics, data.dimensions) == ((), ())
            continue
        assert [(m.metric, m.quantity) for m in data.metrics] == [
            ("calls", (expected, expected)),
            ("tokens", (expected, expected)),
        ]
        [activity] = data.dimensions
        assert (activity.value, activity.events) == (f"{data.account.id}-user", (2, 2))
        with_ticket = data.account.id in ("a2", "a3")
        assert [t.id for t in data.tickets] == ([f"t-{data.account.id}"] if with_ticket else [])


def test_named_accounts_only_and_unknown_ids_skipped(sender: Sender, db: Engine) -> None:
    five_accounts(sender)
    everyone = {d.account.id: d for d in load(db)}

    for batch_size in (1, 2, 500):
        named = load(db, account_ids=["a5", "a2", "missing", "a4", "a2"], batch_size=batch_size)
        assert sorted(d.account.id for d in named) == ["a2", "a4", "a5"]
        assert all(d == everyone[d.account.id] for d in named)
    assert load(db, account_ids=[]) == []


def test_order_is_the_database_order_of_ids(sender: Sender, db: Engine) -> None:
    ids = ["b", "B", "a-1", "a_1", "A", "ä"]
    post(sender, "events", [usage(i, "calls", "2025-01-01T00:00:00Z", 1.0) for i in ids])
    with db.connect() as conn:
        stored = list(conn.scalars(sa.select(tables.accounts.c.id).order_by(tables.accounts.c.id)))

    loaded = load(db, batch_size=2)

    assert [d.account.id for d in loaded] == stored
    assert all(len(d.metrics) == 1 and d.metrics[0].events == (1,) for d in loaded)


def test_batch_size_must_be_positive(db: Engine) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        load(db, batch_size=0)


def test_data_span(sender: Sender, db: Engine) -> None:
    with db.connect() as conn:
        assert history.data_span(conn) is None
    post(
        sender,
        "events",
        [
            usage("a", "calls", "2025-02-03T00:00:00Z", 1.0),
            usage("b", "tokens", "2024-12-31T23:59:59Z", 1.0),
            usage("a", "tokens", "2025-01-10T00:00:00Z", 1.0),
        ],
    )
    with db.connect() as conn:
        assert history.data_span(conn) == (date(2024, 12, 31), date(2025, 2, 3))


# -- snapshots ------------------------------------------------------------------------------


def snapshot(account_id: str, day: date, **fields: Any) -> Snapshot:
    values: dict[str, Any] = {
        "score": 72.5,
        "band": "healthy",
        "churn_risk": 0.125,
        "expansion_likelihood": 0.3,
        "tier": "gold",
        "tier_since": date(2025, 1, 1),
        "exhaustion_date": date(2025, 11, 30),
        "projected_month_spend": 8123.45,
        "components": {"usage": 80.0, "support": None},
        "flags": ("commit_at_risk", "usage_drop"),
        "reasons": ("Usage fell 40% in 14 days",),
        "detail": {"usage": {"trend": -0.4, "days": ["2025-03-01"]}, "note": None},
    }
    values.update(fields)
    return Snapshot(account_id=account_id, day=day, **values)


def add_accounts(db: Engine, *ids: str) -> None:
    with write_transaction(db) as conn:
        repository.ensure_accounts(conn, ids, now=COMPUTED)


def write(db: Engine, snapshots: Iterable[Snapshot], computed_at: datetime = COMPUTED) -> int:
    with write_transaction(db) as conn:
        return write_snapshots(conn, snapshots, computed_at=computed_at)


def test_snapshots_round_trip(db: Engine) -> None:
    add_accounts(db, "acme", "globex")
    stored = [
        snapshot("acme", D1),
        snapshot("globex", D1, exhaustion_date=None, projected_month_spend=None, flags=()),
        snapshot("acme", D2),
    ]

    assert write(db, stored) == 3

    with db.connect() as conn:
        on_d1 = snapshots_on(conn, day=D1)
        only_globex = snapshots_on(conn, day=D1, account_ids=["globex", "nobody"])
        computed = conn.scalars(sa.select(tables.health_snapshots.c.computed_at)).all()
    assert on_d1 == {"acme": stored[0], "globex": stored[1]}
    assert only_globex == {"globex": stored[1]}
    assert computed == [COMPUTED] * 3


def test_writing_again_replaces_the_days_snapshot(db: Engine) -> None:
    add_accounts(db, "acme")
    write(db, [snapshot("acme", D1)])
    later = COMPUTED + timedelta(hours=1)

    again = snapshot("acme", D1, score=40.0, band="at_risk", flags=(), components={}, detail={})
    assert write(db, [again], computed_at=later) == 1

    with db.connect() as conn:
        assert snapshots_on(conn, day=D1) == {"acme": again}
        row = conn.execute(sa.select(tables.health_snapshots)).one()
    assert row.computed_at == later


def test_writes_in_chunks_and_the_last_of_a_key_wins(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.snapshots.WRITE_CHUNK", 2)
    add_accounts(db, "a", "b", "c")
    days = [D1 + timedelta(days=n) for n in range(3)]
    snapshots = [snapshot(a, d) for a in ("c", "a", "b") for d in days]
    snapshots.insert(1, snapshot("c", D1, score=1.0))  # the same key again, in the same chunk

    assert write(db, iter(snapshots)) == 10

    with db.connect() as conn:
        count = conn.scalar(sa.select(sa.func.count()).select_from(tables.health_snapshots))
        assert snapshots_on(conn, day=D1)["c"].score == 1.0
    assert count == 9


def test_latest_snapshots_before_takes_each_accounts_most_recent_earlier_day(db: Engine) -> None:
    add_accounts(db, "a", "b", "c")
    d = [date(2025, 3, n) for n in range(1, 8)]
    write(
        db,
        [
            snapshot("a", d[0], score=1.0),
            snapshot("a", d[2], score=3.0),
            snapshot("a", d[4], score=5.0),
            snapshot("b", d[4], score=50.0),
        ],
    )

    with db.connect() as conn:
        before = {day: latest_snapshots_before(conn, day=day) for day in d}

    scores = {day: {a: s.score for a, s in found.items()} for day, found in before.items()}
    assert scores == {
        d[0]: {},
        d[1]: {"a": 1.0},
        d[2]: {"a": 1.0},
        d[3]: {"a": 3.0},
        d[4]: {"a": 3.0},
        d[5]: {"a": 5.0, "b": 50.0},
        d[6]: {"a": 5.0, "b": 50.0},
    }
    assert before[d[5]]["b"] == snapshot("b", d[4], score=50.0)


def test_snapshot_history_is_one_accounts_days_in_order(db: Engine) -> None:
    add_accounts(db, "a", "b")
    days = [date(2025, 3, n) for n in range(1, 6)]
    write(
        db, [snapshot(a, day, score=float(day.day)) for day in reversed(days) for a in ("a", "b")]
    )

    with db.connect() as conn:
        found = snapshot_history(conn, account_id="a", since=days[1], until=days[3])
        nothing = snapshot_history(conn, account_id="z", since=days[0], until=days[4])

    assert [(s.account_id, s.day, s.score) for s in found] == [
        ("a", days[1], 2.0),
        ("a", days[2], 3.0),
        ("a", days[3], 4.0),
    ]
    assert nothing == []
