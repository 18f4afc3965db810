"""Portfolio KPIs (signals/portfolio/) against hand-computed figures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pytest

from signals.config import TimeToValueTargets
from signals.model import AccountData, AccountInfo, ContractTerms, MetricSeries, Snapshot
from signals.portfolio import (
    COHORT_BASE,
    CURRENT,
    PRIOR_QUARTER,
    RECENT,
    YEAR_AGO,
    AccountUsage,
    FirstValue,
    churn_by_cohort,
    counts_by_band,
    counts_by_tier,
    first_value_from_data,
    first_value_of,
    net_revenue_retention,
    periods_for,
    records_time_to_value,
    revenue,
    revenue_movement,
    time_to_value_kpis,
    week_movers,
)
from signals.ttv import Milestone

DAY = date(2026, 6, 30)
PERIODS = periods_for(DAY)
LONG_AGO = date(2020, 1, 1)
FULL_HISTORY = PERIODS.year_ago.first
TOKEN_PRICE = 0.01


def contract(
    price: float = TOKEN_PRICE, start: date = LONG_AGO, end: date = date(2030, 1, 1)
) -> ContractTerms:
    return ContractTerms(
        id=f"c-{start}", start=start, end=end, committed_amount=1e6, unit_prices={"tokens": price}
    )


def usage(
    account_id: str,
    tokens: Mapping[str, float] | None = None,
    *,
    events: Mapping[str, float] | None = None,
    contracts: tuple[ContractTerms, ...] | None = None,
    arr: float | None = None,
    churned: date | None = None,
) -> AccountUsage:
    """An account whose tokens per period are given; events default to one per 100 tokens."""
    tokens = tokens or {}
    return AccountUsage(
        account=AccountInfo(id=account_id, name=account_id.title(), arr=arr, churned_date=churned),
        contracts=(contract(),) if contracts is None else contracts,
        quantity={name: {"tokens": q} for name, q in tokens.items()},
        events=dict(events) if events is not None else {n: q / 100 for n, q in tokens.items()},
    )


def test_periods_end_on_the_day_and_do_not_overlap() -> None:
    p = PERIODS
    assert (p.current.first, p.current.last, p.current.days) == (date(2026, 4, 2), DAY, 90)
    assert (p.prior_quarter.first, p.prior_quarter.last) == (date(2026, 1, 2), date(2026, 4, 1))
    assert (p.year_ago.first, p.year_ago.last) == (date(2025, 4, 2), date(2025, 6, 30))
    assert (p.cohort_base.first, p.cohort_base.last) == (date(2026, 3, 5), date(2026, 4, 1))
    assert (p.recent.first, p.recent.days) == (date(2026, 6, 3), 28)


def test_nrr_of_two_accounts_year_over_year() -> None:
    books = [
        usage("grower", {YEAR_AGO: 100_000, CURRENT: 180_000}),  # $1,000 -> $1,800
        usage("leaver", {YEAR_AGO: 50_000}),  # $500 -> $0
        usage("newcomer", {CURRENT: 900_000}),  # no revenue a year ago: not in the base
    ]
    kpi = net_revenue_retention(books, PERIODS, history_start=FULL_HISTORY)
    assert kpi.value == pytest.approx(1800 / 1500)
    assert kpi.accounts == 2
    assert kpi.basis == "year over year"
    assert kpi.text() == "120%"
    assert "1,800 / 1,500" in kpi.explanation
    assert "2 accounts" in kpi.explanation


def test_nrr_uses_the_quarter_before_when_history_is_shorter_than_a_year() -> None:
    books = [
        usage("a", {YEAR_AGO: 100_000, PRIOR_QUARTER: 40_000, CURRENT: 30_000}),
        usage("b", {PRIOR_QUARTER: 60_000, CURRENT: 60_000}),
    ]
    kpi = net_revenue_retention(books, PERIODS, history_start=PERIODS.prior_quarter.first)
    assert kpi.basis == "quarter over quarter"
    assert kpi.value == pytest.approx(900 / 1000)
    assert kpi.accounts == 2


def test_nrr_falls_back_to_the_quarter_when_no_account_had_revenue_a_year_ago() -> None:
    books = [usage("young", {PRIOR_QUARTER: 10_000, CURRENT: 25_000})]
    kpi = net_revenue_retention(books, PERIODS, history_start=FULL_HISTORY)
    assert kpi.basis == "quarter over quarter"
    assert kpi.value == pytest.approx(2.5)


def test_nrr_values_each_period_at_the_prices_then_in_force() -> None:
    old = contract(price=0.01, start=LONG_AGO, end=date(2025, 12, 31))
    new = contract(price=0.02, start=date(2026, 1, 1))
    books = [usage("a", {YEAR_AGO: 100_000, CURRENT: 100_000}, contracts=(old, new))]
    assert revenue(books[0], PERIODS, YEAR_AGO) == pytest.approx(1000)
    assert revenue(books[0], PERIODS, CURRENT) == pytest.approx(2000)
    kpi = net_revenue_retention(books, PERIODS, history_start=FULL_HISTORY)
    assert kpi.value == pytest.approx(2.0)


def test_accounts_without_prices_are_valued_at_arr_while_they_use_the_product() -> None:
    kept = usage("kept", events={YEAR_AGO: 5, CURRENT: 9}, contracts=(), arr=365_000)
    lost = usage("lost", events={YEAR_AGO: 5}, contracts=(), arr=36_500)
    unknown = usage("unknown", events={YEAR_AGO: 5, CURRENT: 5}, contracts=())
    assert revenue(kept, PERIODS, CURRENT) == pytest.approx(90_000)
    assert revenue(unknown, PERIODS, CURRENT) is None
    kpi = net_revenue_retention([kept, lost, unknown], PERIODS, history_start=FULL_HISTORY)
    assert kpi.value == pytest.approx(90_000 / 99_000)
    assert kpi.accounts == 2
    assert "2 at ARR" in kpi.explanation
    assert "1 account with neither prices nor ARR left out" in kpi.explanation


def test_nrr_is_none_with_a_reason_when_the_data_cannot_support_it() -> None:
    short = net_revenue_retention(
        [usage("a", {CURRENT: 1000})], PERIODS, history_start=PERIODS.cohort_base.first
    )
    assert short.value is None
    assert not short.available
    assert short.text() == "n/a"
    assert str(PERIODS.prior_quarter.first) in short.explanation

    empty = net_revenue_retention([], PERIODS, history_start=FULL_HISTORY)
    assert empty.value is None
    assert "No account had revenue" in empty.explanation

    never = net_revenue_retention([usage("a", {CURRENT: 1000})], PERIODS, history_start=None)
    assert never.value is None


def test_expansion_and_contraction_quarter_over_quarter() -> None:
    books = [
        usage("up", {PRIOR_QUARTER: 10_000, CURRENT: 12_000}),  # +20%: expansion
        usage("edge", {PRIOR_QUARTER: 10_000, CURRENT: 11_000}),  # +10%: not over 10%
        usage("flat", {PRIOR_QUARTER: 10_000, CURRENT: 10_500}),
        usage("down", {PRIOR_QUARTER: 10_000, CURRENT: 8_000}),  # -20%: contraction
        usage("gone", {PRIOR_QUARTER: 10_000}),  # lost: contraction too
        usage("new", {CURRENT: 50_000}),  # no revenue before: not counted
    ]
    moved = revenue_movement(books, PERIODS, history_start=PERIODS.prior_quarter.first)
    assert moved.expansion.value == pytest.approx(1 / 5)
    assert moved.contraction.value == pytest.approx(2 / 5)
    assert moved.lost == 1
    assert moved.expansion.accounts == moved.contraction.accounts == 5
    assert "(1 to zero)" in moved.contraction.explanation


def test_expansion_needs_the_prior_quarter_in_the_history() -> None:
    moved = revenue_movement(
        [usage("a", {PRIOR_QUARTER: 1, CURRENT: 2})],
        PERIODS,
        history_start=PERIODS.cohort_base.first,
    )
    assert moved.expansion.value is None
    assert moved.contraction.value is None
    assert "this needs it from" in moved.expansion.explanation


def cohort_account(
    account_id: str, base: float, recent: float, churned: date | None = None
) -> AccountUsage:
    return usage(
        account_id, events={COHORT_BASE: base, RECENT: recent, CURRENT: recent}, churned=churned
    )


def test_churn_by_usage_quartile() -> None:
    inside = PERIODS.current.first + timedelta(days=30)
    books = [
        cohort_account("a1", 10, 0),  # silent: churned
        cohort_account("a2", 20, 1),  # 1 event < 10% of 20 = 2: churned
        cohort_account("a3", 30, 3),  # 3 = 10% of 30: meaningful, kept
        cohort_account("a4", 40, 40),
        cohort_account("a5", 50, 50),
        cohort_account("a6", 60, 60),
        cohort_account("a7", 70, 70),
        cohort_account("a8", 80, 80, churned=inside),  # churned in the CRM
        cohort_account("before", 90, 0, churned=PERIODS.current.first - timedelta(days=1)),
        cohort_account("idle", 0, 0),  # no usage before the quarter: not in the population
    ]
    result = churn_by_cohort(books, PERIODS, history_start=FULL_HISTORY)
    assert result.overall.value == pytest.approx(3 / 8)
    assert result.overall.accounts == 8
    assert [(c.quartile, c.accounts, c.churned) for c in result.cohorts] == [
        (1, 2, 2),
        (2, 2, 0),
        (3, 2, 0),
        (4, 2, 1),
    ]
    assert [(c.low, c.high) for c in result.cohorts] == [(10, 20), (30, 40), (50, 60), (70, 80)]
    assert result.cohorts[0].rate == 1.0
    assert result.cohorts[0].label() == "Q1 (lowest, 10-20 events)"


def test_churn_by_cohort_needs_enough_accounts_and_history() -> None:
    few = [cohort_account(f"a{i}", 10 * i, 0 if i == 1 else 10 * i) for i in range(1, 5)]
    result = churn_by_cohort(few, PERIODS, history_start=FULL_HISTORY)
    assert result.overall.value == pytest.approx(1 / 4)
    assert result.cohorts == ()
    assert "too few" in result.explanation

    unsupported = churn_by_cohort(few, PERIODS, history_start=None)
    assert unsupported.overall.value is None
    assert unsupported.cohorts == ()

    nobody = churn_by_cohort([], PERIODS, history_start=FULL_HISTORY)
    assert nobody.overall.value is None
    assert "No account had usage" in nobody.overall.explanation


def snapshot(
    account_id: str,
    score: float = 60.0,
    *,
    day: date = DAY,
    tier: str = "digital",
    band: str = "watch",
    detail: Mapping[str, object] | None = None,
) -> Snapshot:
    return Snapshot(
        account_id=account_id,
        day=day,
        score=score,
        band=band,
        churn_risk=0.1,
        expansion_likelihood=0.1,
        tier=tier,
        tier_since=day,
        detail=dict(detail or {}),
    )


def test_first_value_is_read_from_what_scoring_recorded() -> None:
    reached = Milestone("First value", date(2026, 1, 13), 12, 14, 100).explain()
    waiting = Milestone("First value", None, None, 14, 5).explain()
    late = Milestone("First value", None, None, 14, 40).explain()
    other = Milestone("Target consumption", date(2026, 2, 1), 30, 60, 100).explain()
    since = date(2026, 1, 1)
    crm = AccountInfo(id="x", name="X", customer_since=since, go_live_date=since.replace(day=5))
    bare = AccountInfo(id="y", name="Y")

    def of(detail: Mapping[str, object], account: AccountInfo = bare) -> FirstValue | None:
        return first_value_of(snapshot("a", detail=detail), account)

    assert of({"time_to_value": [reached, other]}, crm) == FirstValue("a", 12, date(2026, 1, 5))
    assert of({"time_to_value": [other, reached]}) == FirstValue("a", 12, None)
    assert of({"time_to_value": [waiting]}) == FirstValue("a", None)
    assert of({"time_to_value": [late]}) == FirstValue("a", None)
    assert of({"time_to_value": []}) is None
    assert records_time_to_value(snapshot("d", detail={"time_to_value": []}))
    assert not records_time_to_value(snapshot("e"))


def test_first_value_computed_from_data() -> None:
    start = date(2026, 3, 1)
    days = tuple(start + timedelta(days=d) for d in (4, 5, 6, 20))
    data = AccountData(
        account=AccountInfo(id="a", name="A", customer_since=start),
        metrics=(MetricSeries("tokens", days, (1.0,) * 4, (1,) * 4),),
    )
    assert first_value_from_data(data, DAY, TimeToValueTargets()) == FirstValue("a", 6, start)


def test_time_to_value_median_p75_and_waiting() -> None:
    found = [FirstValue(a, d) for a, d in [("a", 40), ("b", 5), ("c", 20), ("d", 10)]]
    kpis = time_to_value_kpis([*found, FirstValue("e", None)], history_start=FULL_HISTORY)
    assert kpis.median.value == 15.0
    assert kpis.median.text() == "15 days"
    assert kpis.p75.value == 20.0  # nearest rank: the 3rd of 4
    assert kpis.median.accounts == 4
    assert kpis.waiting.value == pytest.approx(1 / 5)
    assert kpis.waiting.accounts == 5


def test_time_to_value_leaves_out_accounts_that_started_before_usage_was_tracked() -> None:
    tracked = date(2025, 6, 1)
    kpis = time_to_value_kpis(
        [
            FirstValue("old", 1200, date(2022, 1, 1)),  # 1,200 days of no data, not onboarding
            FirstValue("new", 30, date(2025, 8, 1)),
            FirstValue("first-use", 8),  # counted from its first usage: always tracked
        ],
        history_start=tracked,
    )
    assert kpis.median.value == 19.0
    assert kpis.median.accounts == 2
    assert "1 account that started before usage was tracked left out" in kpis.median.explanation


def test_time_to_value_is_none_without_anyone_reaching_it() -> None:
    nobody = time_to_value_kpis([], history_start=FULL_HISTORY)
    assert nobody.median.value is None
    assert nobody.waiting.value is None
    waiting = time_to_value_kpis(
        [FirstValue("a", None), FirstValue("b", None)], history_start=FULL_HISTORY
    )
    assert waiting.median.value is None
    assert waiting.p75.value is None
    assert "None of the 2 accounts" in waiting.median.explanation
    assert waiting.waiting.value == 1.0
    untracked = time_to_value_kpis(
        [FirstValue("a", 900, date(2020, 1, 1))], history_start=FULL_HISTORY
    )
    assert untracked.median.value is None
    assert "started before usage was tracked" in untracked.median.explanation


def test_counts_by_tier_and_band_in_a_fixed_order() -> None:
    shots = [
        snapshot("a", tier="digital", band="healthy"),
        snapshot("b", tier="digital", band="at risk"),
        snapshot("c", tier="strategic", band="healthy"),
    ]
    assert list(counts_by_tier(shots).items()) == [("strategic", 1), ("scaled", 0), ("digital", 2)]
    assert list(counts_by_band(shots).items()) == [("healthy", 2), ("watch", 0), ("at risk", 1)]


def test_week_movers_largest_rises_and_falls_first() -> None:
    before = {a: snapshot(a, 50.0, day=DAY - timedelta(days=7)) for a in "abcdefg"}
    scores = {"a": 60.0, "b": 53.0, "c": 50.5, "d": 43.0, "e": 38.0, "f": 41.0}
    why = {"movers": ["Usage trend rose from 40 to 80 (+10.4 points)"]}
    now = {a: snapshot(a, s, detail=why if a == "a" else None) for a, s in scores.items()} | {
        "new": snapshot("new", 90.0)
    }
    moved = week_movers(now, before, n=2)
    assert [(m.account_id, m.change) for m in moved.up] == [("a", 10.0), ("b", 3.0)]
    assert [(m.account_id, m.change) for m in moved.down] == [("e", -12.0), ("f", -9.0)]
    assert moved.up[0].why == "Usage trend rose from 40 to 80 (+10.4 points)"
    assert moved.up[1].why is None
    assert moved.compared == 6
    assert "2 rose and 3 fell" in moved.explanation


def test_week_movers_without_last_week() -> None:
    moved = week_movers({"a": snapshot("a")}, {})
    assert not moved.available
    assert moved.up == moved.down == ()
    assert "a week earlier" in moved.explanation
