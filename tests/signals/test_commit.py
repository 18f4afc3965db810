"""Commit burndown, exhaustion forecast and month-end spend projection, by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from signals.commit import (
    burndown,
    commit_forecast,
    contract_in_force,
    spend_projection,
)
from signals.config import AlertRules
from signals.model import ContractTerms, MetricSeries
from signals.series import days_back
from tests.support.signal_data import contract, d, series, steady, usage

RULES = AlertRules()
YEAR_START, YEAR_END = d("2026-01-01"), d("2026-12-31")  # a 365-day term
AS_OF = d("2026-04-10")  # day 100 of the term, 265 days left
PRICES = {"tokens": 1.0}


def hundred_a_day() -> MetricSeries:
    """100 tokens a day from the start of the term to well past it."""
    return steady("tokens", 100, YEAR_START, d("2027-03-31"))


def year(committed: float, prices: dict[str, float] | None = None) -> ContractTerms:
    return contract(YEAR_START, YEAR_END, committed, PRICES if prices is None else prices)


@pytest.mark.parametrize(
    ("committed", "status", "exhaustion", "projected", "state"),
    [
        # 10,000 spent; 9,000 left at 100/day runs out in 90 days, long before the end
        pytest.param(
            19_000,
            "early",
            AS_OF + timedelta(days=90),
            36_500 / 19_000,
            "runs_out_early",
            id="early",
        ),
        # exactly the even pace: runs out on the last day of the term
        pytest.param(36_500, "on_track", YEAR_END, 1.0, "on_pace", id="on-track"),
        # 36,500 of 100,000 by the end: under the 70% line
        pytest.param(
            100_000, "under_use", AS_OF + timedelta(days=900), 0.365, "under_use", id="under-use"
        ),
        # 30 days before the end is still early; 29 is not
        pytest.param(
            33_500, "early", d("2026-12-01"), 36_500 / 33_500, "runs_out_early", id="early-boundary"
        ),
        pytest.param(
            33_600, "on_track", d("2026-12-02"), 36_500 / 33_600, "on_pace", id="just-on-track"
        ),
        pytest.param(10_000, "exhausted", AS_OF, 3.65, "overage", id="used-up-today"),
    ],
)
def test_commit_status_and_exhaustion(
    committed: float, status: str, exhaustion: date, projected: float, state: str
) -> None:
    fc = commit_forecast([hundred_a_day()], [year(committed)], AS_OF, RULES)

    assert fc is not None
    assert fc.consumed == pytest.approx(10_000)
    assert fc.daily_burn == pytest.approx(100)
    assert fc.status == status
    assert fc.state == state
    assert fc.exhaustion_date == exhaustion
    assert fc.projected_utilization == pytest.approx(projected)
    assert fc.remaining == pytest.approx(max(0, committed - 10_000))


def test_a_used_up_commit_keeps_the_day_it_ran_out() -> None:
    # 19,000 at 100/day is gone on day 190, 9 July; asked on 1 August
    fc = commit_forecast([hundred_a_day()], [year(19_000)], d("2026-08-01"), RULES)
    assert fc is not None
    assert fc.status == "exhausted"
    assert fc.exhaustion_date == d("2026-07-09")
    assert fc.exhaustion_range == (d("2026-07-09"), d("2026-07-09"))
    assert fc.days_early == 175


def test_early_exhaustion_counts_the_days_before_the_term_ends() -> None:
    fc = commit_forecast([hundred_a_day()], [year(19_000)], AS_OF, RULES)
    assert fc is not None
    assert fc.days_early == (YEAR_END - d("2026-07-09")).days == 175
    assert "runs out on 2026-07-09, 175 days before the term ends" in fc.explain()


def test_utilization_against_the_elapsed_share_of_the_term() -> None:
    fc = commit_forecast([hundred_a_day()], [year(36_500)], AS_OF, RULES)
    assert fc is not None
    assert fc.elapsed_fraction == pytest.approx(100 / 365)
    assert fc.utilization == pytest.approx(10_000 / 36_500)
    assert fc.explain().startswith("On pace: 27% of the $36,500 commit used with 27% of the term")


def test_burn_is_the_last_28_days_with_the_7_and_56_day_burns_as_range() -> None:
    # 100/day, then 200/day over the last week: 7-day 200, 28-day 125, 56-day 112.5
    last_week = AS_OF - timedelta(days=6)
    data = usage(lambda day: 200 if day >= last_week else 100, YEAR_START, AS_OF)
    fc = commit_forecast([series("tokens", data)], [year(36_500)], AS_OF, RULES)

    assert fc is not None
    assert fc.consumed == pytest.approx(10_700)
    assert fc.daily_burn == pytest.approx(125)
    assert fc.burn_range == pytest.approx((112.5, 200))
    # 25,800 left: 207 days at 125, 129 at 200, 230 at 112.5 (whole days, rounded up)
    assert fc.exhaustion_date == AS_OF + timedelta(days=207)
    assert fc.exhaustion_range == (AS_OF + timedelta(days=129), AS_OF + timedelta(days=230))


def test_burn_of_a_young_term_averages_over_the_days_it_has_run() -> None:
    start = AS_OF - timedelta(days=4)
    terms = contract(start, start + timedelta(days=364), 36_500, PRICES)
    fc = commit_forecast([hundred_a_day()], [terms], AS_OF, RULES)
    assert fc is not None
    assert fc.consumed == pytest.approx(500)
    assert fc.daily_burn == pytest.approx(100)  # 500 over 5 days, not over 28


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        # 130 of 36,500 used and 10/day to go: but 13 days is too soon to call it
        pytest.param(d("2026-01-13"), "on_track", id="day-13"),
        pytest.param(d("2026-01-14"), "under_use", id="day-14"),
    ],
)
def test_under_use_waits_for_two_weeks_of_term(as_of: date, status: str) -> None:
    fc = commit_forecast([steady("tokens", 10, YEAR_START, as_of)], [year(36_500)], as_of, RULES)
    assert fc is not None
    assert fc.status == status


def test_no_usage_against_a_commit() -> None:
    fc = commit_forecast([], [year(36_500)], AS_OF, RULES)
    assert fc is not None
    assert fc.consumed == 0
    assert fc.exhaustion_date is None
    assert fc.days_early is None
    assert fc.status == "under_use"
    assert fc.projected_utilization == 0.0


def test_a_vanishing_burn_never_runs_out() -> None:
    tiny = series("tokens", {AS_OF: 1e-310})
    fc = commit_forecast([tiny], [year(36_500)], AS_OF, RULES)
    assert fc is not None
    assert fc.exhaustion_date is None
    assert fc.exhaustion_range == (None, None)
    assert fc.status == "under_use"


@pytest.mark.parametrize(
    "prices",
    [pytest.param({}, id="no-prices"), pytest.param({"tokens": 0.0}, id="zero-price")],
)
def test_a_contract_without_prices_cannot_be_burned_down(prices: dict[str, float]) -> None:
    fc = commit_forecast([hundred_a_day()], [year(36_500, prices)], AS_OF, RULES)
    assert fc is not None
    assert fc.status == "no_prices"
    assert fc.consumed == 0
    assert fc.exhaustion_date is None
    assert "No unit prices" in fc.explain()


def test_a_contract_without_a_committed_amount() -> None:
    fc = commit_forecast([hundred_a_day()], [year(0)], AS_OF, RULES)
    assert fc is not None
    assert fc.status == "no_commit"
    assert fc.exhaustion_date is None


@pytest.mark.parametrize(
    ("committed", "status", "exhaustion"),
    [
        # an ended term does not "run out" in 2028 at the burn it had when it ended
        pytest.param(100_000, "ended", None, id="ended-unused"),
        pytest.param(30_000, "exhausted", d("2026-10-27"), id="ended-used-up-on-day-300"),
    ],
)
def test_a_contract_that_ended(committed: float, status: str, exhaustion: date | None) -> None:
    as_of = d("2027-01-15")
    fc = commit_forecast([hundred_a_day()], [year(committed)], as_of, RULES)

    assert fc is not None
    assert fc.status == status
    assert fc.consumed == pytest.approx(36_500)  # only the term's own days
    assert fc.elapsed_fraction == 1.0
    assert fc.exhaustion_date == exhaustion
    assert fc.state == "ended"  # over, whether or not the commit was used up
    assert fc.explain().startswith("Ended: ")
    if status == "exhausted":
        assert fc.explain().endswith(", $6,500 past the commit.")


@pytest.mark.parametrize(
    ("committed", "text"),
    [
        pytest.param(
            36_500,
            "On pace: 27% of the $36,500 commit used with 27% of the term gone "
            "(2026-01-01 to 2026-12-31). At $100/day it runs out on 2026-12-31, as the term "
            "ends or after.",
            id="on-pace",
        ),
        pytest.param(
            34_000,  # runs out 25 days early: under the 30 that make it "early"
            "On pace: 29% of the $34,000 commit used with 27% of the term gone "
            "(2026-01-01 to 2026-12-31). At $100/day it runs out on 2026-12-06, 25 days "
            "before the term ends at this rate.",
            id="on-pace-but-short",
        ),
        pytest.param(
            100_000,
            "Under-use risk: 10% of the $100,000 commit used with 27% of the term gone "
            "(2026-01-01 to 2026-12-31). At $100/day only 36% of it is used by term end.",
            id="under-use",
        ),
        pytest.param(
            19_000,
            "Runs out early: 53% of the $19,000 commit used with 27% of the term gone "
            "(2026-01-01 to 2026-12-31). At $100/day it runs out on 2026-07-09, 175 days "
            "before the term ends. An expansion conversation for the AE.",
            id="runs-out-early",
        ),
        pytest.param(
            8_000,
            "In overage: 125% of the $8,000 commit used with 27% of the term gone "
            "(2026-01-01 to 2026-12-31); $2,000 past the commit since 2026-03-21. "
            "An expansion conversation for the AE.",
            id="overage",
        ),
    ],
)
def test_each_commit_state_is_named_first(committed: float, text: str) -> None:
    fc = commit_forecast([hundred_a_day()], [year(committed)], AS_OF, RULES)
    assert fc is not None
    assert fc.explain() == text


def test_no_contract_started_yet() -> None:
    later = contract(d("2026-05-01"), d("2027-04-30"), 36_500, PRICES)
    assert commit_forecast([hundred_a_day()], [later], AS_OF, RULES) is None
    assert commit_forecast([hundred_a_day()], [], AS_OF, RULES) is None


def test_leap_day_in_the_exhaustion_forecast() -> None:
    # A 366-day term; on 1 Feb, 3,200 spent of 6,200: 30 days at 100/day crosses 29 Feb
    terms = contract(d("2028-01-01"), d("2028-12-31"), 6_200, PRICES)
    as_of = d("2028-02-01")
    metrics = [steady("tokens", 100, d("2028-01-01"), as_of)]
    fc = commit_forecast(metrics, [terms], as_of, RULES)

    assert fc is not None
    assert fc.exhaustion_date == d("2028-03-02")
    assert fc.elapsed_fraction == pytest.approx(32 / 366)


def test_data_after_as_of_is_ignored() -> None:
    only_to_date = steady("tokens", 100, YEAR_START, AS_OF)
    with_later = series(
        "tokens", usage(lambda day: 100 if day <= AS_OF else 9_999, YEAR_START, YEAR_END)
    )
    now = commit_forecast([only_to_date], [year(36_500)], AS_OF, RULES)
    assert commit_forecast([with_later], [year(36_500)], AS_OF, RULES) == now


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        pytest.param(d("2025-12-31"), None, id="before-any"),
        pytest.param(d("2026-06-01"), "first", id="only-first"),
        pytest.param(d("2026-12-15"), "renewal", id="overlap-latest-started"),
        pytest.param(d("2027-01-05"), "renewal", id="renewal-in-force"),
        pytest.param(d("2028-06-01"), "renewal", id="after-all-ended-the-last"),
    ],
)
def test_contract_in_force(as_of: date, expected: str | None) -> None:
    first = contract(YEAR_START, YEAR_END, 1, id="first")
    renewal = contract(d("2026-12-01"), d("2027-11-30"), 1, id="renewal")
    found = contract_in_force([renewal, first], as_of)
    assert (found.id if found else None) == expected


def test_burndown_is_the_commit_left_at_each_day_end() -> None:
    start = d("2026-03-01")
    terms = contract(start, d("2026-03-31"), 1_000, PRICES)
    metrics = [series("tokens", {start: 100, d("2026-03-02"): 200, d("2026-03-03"): 300})]

    assert burndown(metrics, terms, d("2026-03-03")) == [
        (start, 900.0),
        (d("2026-03-02"), 700.0),
        (d("2026-03-03"), 400.0),
    ]
    assert burndown(metrics, terms, d("2026-02-28")) == []


JUNE_10 = d("2026-06-10")  # 20 days of June left


@pytest.mark.parametrize(
    ("june_per_day", "budget", "projected", "shock"),
    [
        # 1,000 spent, 100/day for 20 more days; a usual month (the 90 days to
        # 31 May at 100/day) is 9,000 / 90 x 30 = 3,000
        pytest.param(100, None, 3_000, False, id="usual"),
        pytest.param(140, None, 4_200, False, id="1.4x-usual"),
        pytest.param(150, None, 4_500, True, id="1.5x-usual"),
        # a usual month over a low budget is no shock: well above both, or nothing
        pytest.param(100, 2_500, 3_000, False, id="over-budget-but-usual"),
        pytest.param(150, 4_000, 4_500, False, id="1.5x-usual-within-1.2x-budget"),
        pytest.param(150, 3_700, 4_500, True, id="1.5x-usual-over-1.2x-budget"),
        pytest.param(100, 3_000, 3_000, False, id="at-budget"),
    ],
)
def test_month_end_projection_and_bill_shock(
    june_per_day: float, budget: float | None, projected: float, shock: bool
) -> None:
    data = usage(lambda day: june_per_day if day >= d("2026-06-01") else 100, YEAR_START, JUNE_10)
    terms = contract(YEAR_START, YEAR_END, 36_500, PRICES, budget=budget)

    sp = spend_projection([series("tokens", data)], [terms], JUNE_10, RULES)

    assert sp is not None
    assert sp.month == d("2026-06-01")
    assert sp.spent == pytest.approx(10 * june_per_day)
    assert sp.daily_rate == pytest.approx(june_per_day)
    assert sp.projected == pytest.approx(projected)
    assert sp.baseline == pytest.approx(3_000)
    assert sp.bill_shock is shock
    if budget:
        assert sp.vs_budget == pytest.approx(projected / budget)


def test_the_rest_of_the_month_goes_at_the_last_weeks_rate() -> None:
    data = usage(lambda day: 300 if day >= d("2026-06-04") else 100, YEAR_START, JUNE_10)
    sp = spend_projection([series("tokens", data)], [year(36_500)], JUNE_10, RULES)
    assert sp is not None
    assert sp.spent == pytest.approx(3 * 100 + 7 * 300)
    assert sp.projected == pytest.approx(2_400 + 20 * 300)
    assert sp.bill_shock  # 8,400 against a usual 3,000


def test_a_new_accounts_steady_usage_is_not_a_bill_shock() -> None:
    # Used since 20 May at 100/day: June heads for 3,000, as May's 12 days did per day.
    first = d("2026-05-20")
    terms = contract(first, first + timedelta(days=364), 36_500, PRICES)
    as_of = d("2026-06-15")
    sp = spend_projection([steady("tokens", 100, first, as_of)], [terms], as_of, RULES)

    assert sp is not None
    assert sp.projected == pytest.approx(3_000)
    assert sp.baseline == pytest.approx(3_000)
    assert not sp.bill_shock


def test_no_history_before_the_month_means_no_baseline() -> None:
    first = d("2026-06-01")
    terms = contract(first, first + timedelta(days=364), 36_500, PRICES)
    sp = spend_projection([steady("tokens", 500, first, JUNE_10)], [terms], JUNE_10, RULES)

    assert sp is not None
    assert sp.baseline is None
    assert sp.vs_baseline is None
    assert not sp.bill_shock


def test_leap_day_month_end() -> None:
    leap = d("2028-02-29")
    terms = contract(d("2027-10-01"), d("2028-09-30"), 36_600, PRICES)
    sp = spend_projection([steady("tokens", 100, d("2027-10-01"), leap)], [terms], leap, RULES)

    assert sp is not None
    assert sp.spent == pytest.approx(2_900)  # 29 days of February
    assert sp.projected == pytest.approx(2_900)  # no day left
    assert sp.baseline == pytest.approx(9_000 / 90 * 29)
    assert not sp.bill_shock


def test_no_projection_without_prices() -> None:
    assert spend_projection([hundred_a_day()], [year(36_500, {})], AS_OF, RULES) is None
    assert spend_projection([hundred_a_day()], [], AS_OF, RULES) is None


def test_spend_projection_ignores_data_after_as_of() -> None:
    to_date = steady("tokens", 100, YEAR_START, JUNE_10)
    with_later = series(
        "tokens", usage(lambda day: 100 if day <= JUNE_10 else 5_000, YEAR_START, YEAR_END)
    )
    assert spend_projection([with_later], [year(36_500)], JUNE_10, RULES) == spend_projection(
        [to_date], [year(36_500)], JUNE_10, RULES
    )


def test_projection_explains_itself() -> None:
    data = usage(lambda day: 150 if day >= d("2026-06-01") else 100, YEAR_START, JUNE_10)
    sp = spend_projection([series("tokens", data)], [year(36_500)], JUNE_10, RULES)
    assert sp is not None
    assert sp.explain() == (
        "June spend so far $1,500; at $150/day the month ends near $4,500, "
        "1.5x a usual month ($3,000). Bill-shock risk, medium confidence: only the last "
        "week's rate takes the month above both."
    )


@pytest.mark.parametrize(
    ("june", "as_of", "confidence"),
    [
        # 300/day since 1 June: by the 10th, even the 28-day rate (mixing May's 100) ends
        # June at 3,000 + 20 x 171 = 6,430, above 1.5 x 3,000
        pytest.param(300, JUNE_10, "high", id="sustained"),
        # the month has already spent 1.5x a usual month
        pytest.param(1_000, JUNE_10, "certain", id="already-spent"),
        # three days of June at 300: only the last week's rate, and few days seen
        pytest.param(300, d("2026-06-03"), "low", id="early-in-month"),
    ],
)
def test_bill_shock_confidence_in_words(june: float, as_of: date, confidence: str) -> None:
    data = usage(lambda day: june if day >= d("2026-06-01") else 100, YEAR_START, as_of)
    sp = spend_projection([series("tokens", data)], [year(36_500)], as_of, RULES)
    assert sp is not None
    assert sp.bill_shock
    assert sp.confidence == confidence
    assert f"Bill-shock risk, {confidence}" in sp.explain()


def test_days_back_counts_the_window_end_in() -> None:
    assert days_back(d("2026-03-01"), 1) == d("2026-03-01")
    assert days_back(d("2028-03-01"), 2) == d("2028-02-29")
