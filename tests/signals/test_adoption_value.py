"""Adoption, time to value, value realized and support load, by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from signals.adoption import adoption
from signals.config import ScoringConfig, TimeToValueTargets, ValueFactor
from signals.consumption import consumption
from signals.model import AccountInfo, DimensionActivity, MetricSeries
from signals.support import support_load
from signals.ttv import time_to_value
from signals.value import value_realized
from tests.support.signal_data import contract, d, days, dimension, series, steady, ticket, usage

AS_OF = d("2026-06-30")
WINDOW = 28
WINDOW_FIRST = d("2026-06-03")  # the last 28 days: 3-30 June
PREVIOUS = days(d("2026-05-06"), d("2026-06-02"))  # the 28 days before
RECENT = days(WINDOW_FIRST, AS_OF)
TARGETS = TimeToValueTargets()


# -- adoption ---------------------------------------------------------------


def test_active_users_and_dau_over_mau() -> None:
    # Ten users, each on every other day of the window (14 of 28): 5 a day on average
    users = [dimension("user", f"u{i}", RECENT[::2]) for i in range(10)]
    # four of them were also active in the window before
    users += [dimension("user", f"u{i}", PREVIOUS[:3]) for i in range(4)]

    a = adoption(users, AS_OF, WINDOW)

    assert a.active_users == 10
    assert a.previous_users == 4
    assert a.daily_active_users == pytest.approx(5.0)
    assert a.stickiness == pytest.approx(0.5)
    assert a.breadth_trend == pytest.approx(math.log(11 / 5))
    assert not a.has_breadth


def test_no_users_no_stickiness() -> None:
    a = adoption([], AS_OF, WINDOW)
    assert a.active_users == 0
    assert a.stickiness is None
    assert a.breadth_trend is None
    assert a.explain() == "No user, feature or team detail in the usage events."


def test_breadth_counts_features_and_teams_against_the_window_before() -> None:
    dims = [
        dimension("feature", "chat", PREVIOUS + RECENT),
        dimension("feature", "search", PREVIOUS + RECENT),
        dimension("feature", "voice", [d("2026-06-20"), d("2026-06-21")]),
        dimension("team", "support", PREVIOUS + RECENT),
    ]
    a = adoption(dims, AS_OF, WINDOW)

    assert a.features == ("chat", "search", "voice")
    assert a.previous_features == 2
    assert a.teams == ("support",)
    # features 3 against 2, teams 1 against 1
    assert a.breadth_trend == pytest.approx((math.log(4 / 3) + math.log(2 / 2)) / 2)
    assert a.new_features == (("voice", d("2026-06-20")),)
    assert a.new_teams == ()


@pytest.mark.parametrize(
    ("account_start", "feature_start", "is_new"),
    [
        pytest.param(d("2026-05-06"), d("2026-06-20"), True, id="established-account"),
        pytest.param(d("2026-06-05"), d("2026-06-19"), True, id="active-14-days-before"),
        pytest.param(d("2026-06-05"), d("2026-06-18"), False, id="active-only-13-days"),
        pytest.param(d("2026-01-05"), d("2026-05-20"), False, id="first-used-before-window"),
    ],
)
def test_a_feature_is_new_only_after_the_account_was_active_14_days(
    account_start: date, feature_start: date, is_new: bool
) -> None:
    dims = [
        dimension("team", "support", days(account_start, AS_OF)),
        dimension("feature", "voice", days(feature_start, AS_OF)),
    ]
    a = adoption(dims, AS_OF, WINDOW)
    assert (a.new_features == (("voice", feature_start),)) is is_new


def test_adoption_ignores_activity_after_as_of() -> None:
    now = [
        dimension("user", "ann", RECENT),
        dimension("feature", "chat", PREVIOUS + RECENT),
    ]
    later = [
        dimension("user", "ann", [*RECENT, d("2026-07-01")]),
        dimension("user", "bob", [d("2026-07-02")]),
        dimension("feature", "chat", [*PREVIOUS, *RECENT, d("2026-07-03")]),
        dimension("feature", "voice", [d("2026-07-01")]),
    ]
    assert adoption(later, AS_OF, WINDOW) == adoption(now, AS_OF, WINDOW)


# -- time to value ------------------------------------------------------------

GO_LIVE = d("2026-01-01")


def active_on(offsets: list[int]) -> list[MetricSeries]:
    return [series("tokens", {GO_LIVE + timedelta(days=i): 10 for i in offsets})]


@pytest.mark.parametrize(
    ("offsets", "as_of_day", "reached_day", "missed", "words"),
    [
        pytest.param(
            [2, 5, 8], 20, 8, False, "First value: 8 days (target 14, on time).", id="on-time"
        ),
        pytest.param(
            [12, 13, 14], 20, 14, False, "First value: 14 days (target 14, on time).", id="at-14"
        ),
        pytest.param(
            [13, 14, 15], 20, 15, True, "First value: 15 days (target 14, late).", id="late"
        ),
        # once a week is never three days within a week
        pytest.param(
            [0, 7, 14],
            20,
            None,
            True,
            "First value: not reached after 20 days (target 14).",
            id="weekly-only",
        ),
        pytest.param([], 10, None, False, "First value: not yet (10 of 14 days).", id="not-yet"),
    ],
)
def test_first_value_is_usage_on_three_days_within_a_week(
    offsets: list[int], as_of_day: int, reached_day: int | None, missed: bool, words: str
) -> None:
    info = AccountInfo("acme", "Acme", go_live_date=GO_LIVE)
    as_of = GO_LIVE + timedelta(days=as_of_day)

    ttv = time_to_value(info, active_on(offsets), [], as_of, TARGETS)

    fv = ttv.first_value
    assert fv is not None
    assert fv.reached == (None if reached_day is None else GO_LIVE + timedelta(days=reached_day))
    assert fv.days == reached_day
    assert fv.missed is missed
    assert fv.explain() == words
    assert ttv.target_consumption is None  # no contract


@pytest.mark.parametrize(
    ("go_live", "customer_since", "expected"),
    [
        pytest.param(d("2026-01-05"), d("2025-12-01"), d("2026-01-05"), id="go-live-first"),
        pytest.param(None, d("2025-12-01"), d("2025-12-01"), id="then-customer-since"),
        pytest.param(None, None, d("2025-10-01"), id="then-first-contract-or-use"),
    ],
)
def test_time_to_value_counts_from_go_live_then_customer_since_then_first_record(
    go_live: date | None, customer_since: date | None, expected: date
) -> None:
    info = AccountInfo("acme", "Acme", go_live_date=go_live, customer_since=customer_since)
    terms = contract(d("2025-11-01"), d("2026-10-31"), 1_000, {"tokens": 1.0})
    used = steady("tokens", 1, d("2025-10-01"), d("2025-10-03"))
    assert time_to_value(info, [used], [terms], AS_OF, TARGETS).start == expected


def test_nothing_to_count_from() -> None:
    ttv = time_to_value(AccountInfo("acme", "Acme"), [], [], AS_OF, TARGETS)
    assert ttv.start is None
    assert ttv.milestones == ()


def test_records_after_as_of_are_not_a_start() -> None:
    later = steady("tokens", 100, AS_OF + timedelta(days=1), AS_OF + timedelta(days=9))
    terms = contract(AS_OF + timedelta(days=1), AS_OF + timedelta(days=365), 1_000)
    ttv = time_to_value(AccountInfo("acme", "Acme"), [later], [terms], AS_OF, TARGETS)
    assert ttv == time_to_value(AccountInfo("acme", "Acme"), [], [], AS_OF, TARGETS)


@pytest.mark.parametrize(
    ("per_day", "reached_day", "missed"),
    [
        # the even pace of 36,500 over 365 days is 100/day; 80% of a week of it is 560
        pytest.param(80, 6, False, id="at-80%-from-day-one"),
        pytest.param(70, None, True, id="below-80%"),
    ],
)
def test_target_consumption_is_a_week_at_80_percent_of_the_even_pace(
    per_day: float, reached_day: int | None, missed: bool
) -> None:
    info = AccountInfo("acme", "Acme", go_live_date=GO_LIVE)
    terms = contract(GO_LIVE, d("2026-12-31"), 36_500, {"tokens": 1.0})
    as_of = GO_LIVE + timedelta(days=70)
    metrics = [steady("tokens", per_day, GO_LIVE, as_of)]

    milestone = time_to_value(info, metrics, [terms], as_of, TARGETS).target_consumption

    assert milestone is not None
    assert milestone.days == reached_day
    assert milestone.target_days == 60
    assert milestone.missed is missed


def test_first_expansion_signal_is_a_month_at_1_5x_the_first() -> None:
    # 100 a day from go-live (first value on day 2), 200 a day from day 30: the
    # trailing 28 days reach 1.5 x 2,800 on day 2 + 28 + 13 = 43.
    info = AccountInfo("acme", "Acme", go_live_date=GO_LIVE)
    as_of = GO_LIVE + timedelta(days=90)
    data = usage(lambda day: 200 if day >= GO_LIVE + timedelta(days=30) else 100, GO_LIVE, as_of)

    ttv = time_to_value(info, [series("tokens", data)], [], as_of, TARGETS)

    assert ttv.first_value is not None
    assert ttv.first_value.days == 2
    assert ttv.first_expansion is not None
    assert ttv.first_expansion.days == 43
    assert not ttv.first_expansion.missed


# -- value realized -------------------------------------------------------------


def test_value_in_hours_and_money() -> None:
    # 5,000 resolutions at 6 minutes each and $40/hour: 500 hours, $20,000
    resolutions = series(
        "resolutions", {d("2026-06-01"): 999, d("2026-06-10"): 2_000, d("2026-06-20"): 3_000}
    )
    factors = {
        "resolutions": ValueFactor(label="of agent time", minutes=6, hourly_rate=40),
    }
    v = value_realized([resolutions], [], WINDOW_FIRST, AS_OF, {"resolutions": 2.0}, factors)

    (m,) = v.metrics
    assert m.quantity == 5_000  # 1 June is before the window
    assert v.hours_saved == pytest.approx(500)
    assert v.value == pytest.approx(20_000)
    assert v.spend == pytest.approx(10_000)
    assert v.return_on_spend == pytest.approx(2.0)
    assert v.explain() == (
        "2026-06-03 to 2026-06-30: 5,000 resolutions = about 500 hours of agent time "
        "(worth ~$20,000); 2.0x the spend."
    )


def test_value_as_money_per_unit() -> None:
    deals = series("deals", {d("2026-06-15"): 100})
    v = value_realized([deals], [], WINDOW_FIRST, AS_OF, {}, {"deals": ValueFactor(money=50)})
    assert v.value == pytest.approx(5_000)
    assert v.hours_saved is None
    assert v.return_on_spend is None  # nothing spent


def test_no_value_factor_no_value() -> None:
    v = value_realized([steady("tokens", 10, WINDOW_FIRST, AS_OF)], [], WINDOW_FIRST, AS_OF, {}, {})
    assert v.value is None
    assert v.explain() == "2026-06-03 to 2026-06-30: 280 tokens."


def test_value_ignores_metrics_not_in_use_by_the_end_of_the_period() -> None:
    tokens = steady("tokens", 10, WINDOW_FIRST, AS_OF)
    later = steady("images", 10, AS_OF + timedelta(days=1), AS_OF + timedelta(days=9))
    v = value_realized([tokens, later], [], WINDOW_FIRST, AS_OF, {"images": 1.0}, {})
    assert v == value_realized([tokens], [], WINDOW_FIRST, AS_OF, {"images": 1.0}, {})
    assert v.explain() == "2026-06-03 to 2026-06-30: 280 tokens."


@pytest.mark.parametrize(
    ("successes", "failures", "rate"),
    [
        pytest.param(90, 10, 0.9, id="90%"),
        pytest.param(0, 5, 0.0, id="all-failed"),
        pytest.param(0, 0, None, id="none-judged"),
    ],
)
def test_success_rate(successes: int, failures: int, rate: float | None) -> None:
    day = d("2026-06-15")
    calls = series("calls", {day: 200}, successes={day: successes}, failures={day: failures})
    v = value_realized([calls], [], WINDOW_FIRST, AS_OF, {}, {})
    assert v.success_rate == (None if rate is None else pytest.approx(rate))
    assert v.metrics[0].success_rate == v.success_rate


def test_feature_success_rates_busiest_first_and_only_in_the_period() -> None:
    june = d("2026-06-15")
    dims = [
        DimensionActivity("feature", "summaries", (june,), (40,), (30,), (10,)),
        DimensionActivity("feature", "triage", (june,), (100,), (99,), (1,)),
        DimensionActivity("feature", "old", (d("2026-05-01"),), (500,), (1,), (1,)),
        DimensionActivity("team", "support", (june,), (500,), (), ()),
    ]
    v = value_realized([], dims, WINDOW_FIRST, AS_OF, {}, {})
    assert [(f.feature, f.success_rate) for f in v.features] == [
        ("triage", 0.99),
        ("summaries", 0.75),
    ]


# -- support load -----------------------------------------------------------------


def test_support_load_by_priority_with_urgent_tickets_still_open() -> None:
    tickets = [
        ticket("t1", d("2026-06-10"), priority="low"),
        ticket("t2", d("2026-06-11"), solved=d("2026-06-12"), csat=5),
        ticket("t3", d("2026-06-12"), priority="high"),
        ticket("t4", d("2026-06-13"), priority="urgent", solved=d("2026-07-05")),  # open then
        ticket("t5", d("2026-05-01"), priority="high"),  # open, from before the window
        ticket("t6", d("2026-07-02"), priority="urgent"),  # after as_of
    ]
    s = support_load(tickets, AS_OF, WINDOW)

    assert s.opened_recent == 4
    assert s.weighted_recent == pytest.approx(0.5 + 1 + 2 + 3)
    assert s.open_tickets == 4
    assert s.open_urgent == 3
    assert s.load == pytest.approx(6.5 + 1.5 * 3)
    assert s.csat == 5.0
    assert not s.low_csat


@pytest.mark.parametrize(
    ("ratings", "csat", "low"),
    [
        pytest.param([2, 3], 2.5, True, id="2.5-is-low"),
        pytest.param([3, 3], 3.0, False, id="3-is-fine"),
        pytest.param([], None, False, id="no-ratings"),
    ],
)
def test_csat_over_tickets_solved_in_the_last_90_days(
    ratings: list[int], csat: float | None, low: bool
) -> None:
    tickets = [
        ticket(f"r{i}", d("2026-05-01"), solved=d("2026-05-02"), csat=r)
        for i, r in enumerate(ratings)
    ]
    tickets += [
        ticket("old", d("2026-03-01"), solved=d("2026-03-30"), csat=5),  # 92 days before
        ticket("later", d("2026-06-29"), solved=d("2026-07-01"), csat=5),  # after as_of
    ]
    s = support_load(tickets, AS_OF, WINDOW)
    assert s.csat == csat
    assert s.low_csat is low


def test_a_closed_ticket_without_a_solved_time_is_not_open() -> None:
    tickets = [ticket("t1", d("2026-06-10"), priority="urgent", status="closed")]
    s = support_load(tickets, AS_OF, WINDOW)
    assert s.open_tickets == 0
    assert s.opened_recent == 1


@pytest.mark.parametrize(
    ("opened", "in_window"),
    [
        pytest.param(datetime(2026, 6, 3, 0, 0, tzinfo=UTC), True, id="window-start"),
        pytest.param(datetime(2026, 6, 2, 23, 59, 59, tzinfo=UTC), False, id="just-before"),
        pytest.param(datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC), True, id="as-of-end"),
    ],
)
def test_support_window_edges_are_utc_days(opened: datetime, in_window: bool) -> None:
    s = support_load([ticket("t", opened)], AS_OF, WINDOW)
    assert s.opened_recent == int(in_window)


NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("opened", "first_day"),
    [
        # the evening of the spring-forward day in New York is already the 9th in UTC
        pytest.param(datetime(2026, 3, 8, 19, 30, tzinfo=NEW_YORK), d("2026-03-08"), id="edt-7pm"),
        pytest.param(datetime(2026, 3, 8, 20, 30, tzinfo=NEW_YORK), d("2026-03-09"), id="edt-8pm"),
        # after falling back, New York is five hours behind
        pytest.param(datetime(2026, 11, 1, 18, 30, tzinfo=NEW_YORK), d("2026-11-01"), id="est-6pm"),
        pytest.param(datetime(2026, 11, 1, 19, 30, tzinfo=NEW_YORK), d("2026-11-02"), id="est-7pm"),
    ],
)
def test_tickets_fall_on_their_utc_day_across_dst(opened: datetime, first_day: date) -> None:
    t = ticket("t", opened)
    assert support_load([t], first_day - timedelta(days=1), 7).open_tickets == 0
    assert support_load([t], first_day, 7).open_tickets == 1


def test_support_ignores_tickets_after_as_of() -> None:
    now = [ticket("a", d("2026-06-10"), priority="high")]
    later = [*now, ticket("b", d("2026-07-01"), priority="urgent", solved=d("2026-07-02"), csat=1)]
    assert support_load(later, AS_OF, WINDOW) == support_load(now, AS_OF, WINDOW)


def test_a_brand_new_account_has_no_breadth_trend_and_full_stickiness() -> None:
    today = d("2026-11-20")
    a = adoption(
        [dimension("user", "u1", [today]), dimension("feature", "chat", [today])], today, 28
    )
    assert a.breadth_trend is None  # nothing before to compare with
    assert a.stickiness == 1.0  # one user, active on the one day there is
    assert a.new_features == ()


def test_a_young_account_has_no_short_trend_or_volatility_yet() -> None:
    today = d("2026-11-20")
    young = consumption(
        [steady("tokens", 100, today - timedelta(days=9), today)], today, ScoringConfig()
    )
    assert young.short_trend is None
    assert young.volatility is None
    settled = consumption(
        [steady("tokens", 100, today - timedelta(days=60), today)], today, ScoringConfig()
    )
    assert settled.short_trend == pytest.approx(0.0)
    assert settled.volatility == pytest.approx(0.0)
