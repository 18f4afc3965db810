"""Consumption signals: trend, recency, volatility and weekday-aware anomalies, by hand."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from signals.config import ScoringConfig
from signals.consumption import consumption, percentile_rank
from signals.model import MetricSeries
from signals.series import log_ratio, pct, squash
from tests.support.signal_data import d, series, steady, two_level, usage

CONFIG = ScoringConfig()
AS_OF = d("2026-06-30")  # a Tuesday
HISTORY_START = AS_OF - timedelta(days=83)  # 56 baseline days + 28 recent days


def weekly_pattern(weekday: float, weekend: float, first: date, last: date) -> dict[date, float]:
    return usage(lambda day: weekend if day.weekday() >= 5 else weekday, first, last)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(100, 100, 0.0, id="flat"),
        # recent 1,400 against 2,800, each side softened by 2% of the larger (56)
        pytest.param(100, 50, math.log(1456 / 2856), id="halved"),
        pytest.param(100, 200, math.log(5712 / 2912), id="doubled"),
        # log(56 / 2856) is -3.93: clipped to -3
        pytest.param(100, 0, -3.0, id="stopped"),
        # log(28560 / 840) is +3.53: clipped to +3
        pytest.param(10, 1000, 3.0, id="hundredfold"),
    ],
)
def test_trend_is_the_log_ratio_of_the_last_28_days_to_the_56_before_scaled_to_28(
    before: float, after: float, expected: float
) -> None:
    c = consumption([two_level("tokens", AS_OF, before, after)], AS_OF, CONFIG)

    (m,) = c.metrics
    assert m.recent == pytest.approx(28 * after)
    assert m.baseline == pytest.approx(28 * before)  # 56 days of `before`, scaled to 28
    assert m.log_ratio == pytest.approx(expected)
    assert c.trend == pytest.approx(expected)
    assert c.recent_window == (d("2026-06-03"), AS_OF)
    assert c.baseline_window == (d("2026-04-08"), d("2026-06-02"))


def test_a_metric_used_for_part_of_the_baseline_is_compared_per_day_of_use() -> None:
    # Steady 100/day since 42 days before the recent window: the baseline is
    # 4,200 over 42 days, i.e. 2,800 per 28 days, so the usage is flat, not +33%.
    first = AS_OF - timedelta(days=27 + 42)
    c = consumption([steady("tokens", 100, first, AS_OF)], AS_OF, CONFIG)

    assert c.metrics[0].baseline == pytest.approx(2800)
    assert c.trend == pytest.approx(0.0)


def test_short_trend_is_the_last_week_scaled_against_the_last_28_days() -> None:
    last_week = AS_OF - timedelta(days=6)
    data = usage(lambda day: 50 if day >= last_week else 100, HISTORY_START, AS_OF)
    c = consumption([series("tokens", data)], AS_OF, CONFIG)

    # recent: 21 x 100 + 7 x 50 = 2,450; the week scaled to 28 days: 1,400
    assert c.short_trend == pytest.approx(math.log((1400 + 49) / (2450 + 49)))
    assert c.short_trend == pytest.approx(c.metrics[0].short_log_ratio)


def test_volatility_is_the_variation_of_weekly_totals_over_eight_weeks() -> None:
    # Four weeks of 700 then four of 350: mean 525, deviation 175
    c = consumption([two_level("tokens", AS_OF, 100, 50)], AS_OF, CONFIG)
    assert c.volatility == pytest.approx(175 / 525)


def test_steady_usage_has_no_volatility() -> None:
    c = consumption([steady("tokens", 100, HISTORY_START, AS_OF)], AS_OF, CONFIG)
    assert c.volatility == pytest.approx(0.0)


def test_a_metric_that_counts_against_health_reverses_its_trend() -> None:
    # Unpriced metrics share the trend equally; errors doubling is bad news.
    config = ScoringConfig(metric_weights={"errors": -1.0})
    tokens = steady("tokens", 100, HISTORY_START, AS_OF)
    errors = two_level("errors", AS_OF, 10, 20)

    c = consumption([tokens, errors], AS_OF, config)

    errors_ratio = math.log((560 + 11.2) / (280 + 11.2))
    assert c.trend == pytest.approx(-0.5 * errors_ratio)
    assert c.trend is not None
    assert c.trend < 0


def test_priced_metrics_count_in_the_trend_by_their_share_of_spend() -> None:
    # A usual 28 days: tokens 2,800 x $1; images 2,800 x $0.10 = 280 at their
    # baseline pace, before they stopped: a 1/11 share of the spend.
    tokens = steady("tokens", 100, HISTORY_START, AS_OF)
    images = two_level("images", AS_OF, 100, 0)
    prices = {"tokens": 1.0, "images": 0.1}

    c = consumption([tokens, images], AS_OF, CONFIG, prices)

    assert c.trend == pytest.approx(280 / 3080 * -3.0)
    assert c.recent_spend == pytest.approx(2800.0)
    assert c.recent_events == 2800


def test_a_metric_no_longer_used_does_not_dilute_the_trend_of_those_in_use() -> None:
    # "legacy" was last used 200 days ago: nothing against nothing is no news, and
    # must not halve the 49% fall of the metric the account actually uses.
    legacy = steady("legacy", 100, AS_OF - timedelta(days=260), AS_OF - timedelta(days=200))
    tokens = two_level("tokens", AS_OF, 100, 50)

    c = consumption([legacy, tokens], AS_OF, CONFIG)

    assert c.trend == pytest.approx(math.log(1456 / 2856))
    assert c.explain() == (
        "Usage -49% over the last 28 days against the 56 days before (tokens -49%)."
    )


def test_a_metric_that_only_starts_after_as_of_does_not_count() -> None:
    later = steady("images", 100, AS_OF + timedelta(days=1), AS_OF + timedelta(days=40))
    tokens = two_level("tokens", AS_OF, 100, 50)

    assert consumption([tokens, later], AS_OF, CONFIG) == consumption([tokens], AS_OF, CONFIG)


def _meaningful_case(stop_back: int, trickle: float) -> MetricSeries:
    """100 events a day until `stop_back` days ago, then `trickle` a day."""
    stop = AS_OF - timedelta(days=stop_back)
    return series(
        "tokens", usage(lambda day: 100 if day <= stop else trickle, HISTORY_START, AS_OF)
    )


@pytest.mark.parametrize(
    ("stop_back", "trickle", "expected", "last_usage_back"),
    [
        pytest.param(0, 0, 0, 0, id="used-today"),
        pytest.param(10, 0, 10, 10, id="stopped-10-days-ago"),
        # 10% of the typical day (100 events) is the bar: 5 a day does not count
        pytest.param(10, 5, 10, 0, id="trickle-below-the-bar"),
        pytest.param(10, 10, 0, 0, id="trickle-at-the-bar"),
    ],
)
def test_days_since_meaningful_usage(
    stop_back: int, trickle: float, expected: int, last_usage_back: int
) -> None:
    c = consumption([_meaningful_case(stop_back, trickle)], AS_OF, CONFIG)

    assert c.meaningful_threshold == pytest.approx(10.0)
    assert c.days_since_meaningful == expected
    assert c.last_usage == AS_OF - timedelta(days=last_usage_back)


def test_days_since_meaningful_usage_beyond_the_loaded_window() -> None:
    last = AS_OF - timedelta(days=100)
    c = consumption([steady("tokens", 100, last - timedelta(days=60), last)], AS_OF, CONFIG)

    assert c.days_since_meaningful == 100
    assert c.last_usage == last
    assert c.trend == pytest.approx(0.0)  # nothing against nothing


def test_no_usage_yet() -> None:
    empty = MetricSeries("tokens", (), (), ())
    for metrics in ([], [empty]):
        c = consumption(metrics, AS_OF, CONFIG)
        assert c.first_usage is None
        assert c.last_usage is None
        assert c.trend is None
        assert c.short_trend is None
        assert c.volatility is None
        assert c.days_since_meaningful is None
        assert c.anomalies == ()
        assert c.history_days == 0
        assert c.explain() == "No usage yet."


def test_one_day_of_data() -> None:
    c = consumption([series("tokens", {AS_OF: 100})], AS_OF, CONFIG)

    assert c.first_usage == c.last_usage == AS_OF
    assert c.history_days == 1
    assert c.trend is None  # no baseline to compare with
    assert c.days_since_meaningful == 0
    assert c.anomalies == ()  # the days before the first use are not a "usual" zero
    assert c.explain() == "Too new for a trend: first usage 2026-06-30."


def test_a_young_account_with_steady_usage_has_no_anomalies() -> None:
    c = consumption([steady("tokens", 100, AS_OF - timedelta(days=20), AS_OF)], AS_OF, CONFIG)
    assert c.anomalies == ()


def test_a_regular_weekend_dip_is_not_an_anomaly() -> None:
    data = weekly_pattern(100, 10, HISTORY_START, AS_OF)
    c = consumption([series("tokens", data)], AS_OF, CONFIG)
    assert c.anomalies == ()


@pytest.mark.parametrize(
    ("day", "value", "direction", "expected", "z"),
    [
        # the same weekday brought 100 every week: the scale is 15% of that
        pytest.param(d("2026-06-24"), 0, "drop", 100, -6.67, id="weekday-zero"),
        pytest.param(d("2026-06-25"), 1000, "spike", 100, 60.0, id="weekday-10x"),
        pytest.param(d("2026-06-27"), 100, "spike", 10, 60.0, id="busy-saturday"),
    ],
)
def test_a_sudden_change_on_a_weekday_is_an_anomaly(
    day: date, value: float, direction: str, expected: float, z: float
) -> None:
    data = weekly_pattern(100, 10, HISTORY_START, AS_OF)
    data[day] = value
    c = consumption([series("tokens", data)], AS_OF, CONFIG)

    (anomaly,) = c.anomalies
    assert anomaly.day == day
    assert anomaly.direction == direction
    assert anomaly.actual == value
    assert anomaly.expected == expected
    assert anomaly.z == pytest.approx(z)


@pytest.mark.parametrize(
    ("day", "value"),
    [
        pytest.param(d("2026-06-24"), 70, id="30%-down-is-ordinary"),
        pytest.param(d("2026-06-16"), 0, id="older-than-the-last-week"),
    ],
)
def test_small_or_old_changes_are_not_anomalies(day: date, value: float) -> None:
    data = weekly_pattern(100, 10, HISTORY_START, AS_OF)
    data[day] = value
    c = consumption([series("tokens", data)], AS_OF, CONFIG)
    assert c.anomalies == ()


def test_data_after_as_of_is_ignored() -> None:
    base = two_level("tokens", AS_OF, 100, 40)
    later = usage(lambda _: 5000, AS_OF + timedelta(days=1), AS_OF + timedelta(days=60))
    both = dict(zip(base.days, base.quantity, strict=True)) | later

    assert consumption([series("tokens", both)], AS_OF, CONFIG) == consumption(
        [base], AS_OF, CONFIG
    )


def test_data_after_as_of_is_ignored_for_an_account_that_starts_later() -> None:
    future = steady("tokens", 100, AS_OF + timedelta(days=1), AS_OF + timedelta(days=30))
    assert consumption([future], AS_OF, CONFIG) == consumption([], AS_OF, CONFIG)


def test_leap_day_windows() -> None:
    leap = d("2028-02-29")
    c = consumption([steady("tokens", 100, leap - timedelta(days=83), leap)], leap, CONFIG)

    assert c.recent_window == (d("2028-02-02"), leap)
    assert c.baseline_window == (d("2027-12-08"), d("2028-02-01"))
    assert c.metrics[0].recent == pytest.approx(2800)
    assert c.trend == pytest.approx(0.0)


@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param(d("2026-03-09"), id="after-us-spring-forward"),
        pytest.param(d("2026-03-30"), id="after-eu-spring-forward"),
        pytest.param(d("2026-11-02"), id="after-us-fall-back"),
    ],
)
def test_a_dst_change_does_not_shift_a_day(as_of: date) -> None:
    c = consumption([steady("tokens", 100, as_of - timedelta(days=83), as_of)], as_of, CONFIG)

    assert c.recent_window == (as_of - timedelta(days=27), as_of)
    assert c.recent_events == 2800  # exactly 28 days, none counted twice or lost
    assert c.trend == pytest.approx(0.0)
    assert c.days_since_meaningful == 0


@pytest.mark.parametrize(
    ("value", "population", "expected"),
    [
        (3.0, [1.0, 2.0, 3.0, 4.0], 0.625),  # two below, one tie counted half
        (0.0, [1.0, 2.0, 3.0, 4.0], 0.0),
        (9.0, [1.0, 2.0, 3.0, 4.0], 1.0),
        (2.0, [2.0, 2.0], 0.5),
        (1.0, [], 0.5),
    ],
)
def test_percentile_rank(value: float, population: list[float], expected: float) -> None:
    assert percentile_rank(value, population) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ratio", "text"),
    [(1.25, "+25%"), (0.6, "-40%"), (1.0, "+0%"), (2.0, "+100%")],
)
def test_trends_read_as_percent_changes(ratio: float, text: str) -> None:
    assert pct(math.log(ratio)) == text


def test_explain_names_the_change_and_the_windows() -> None:
    c = consumption([two_level("tokens", AS_OF, 100, 50)], AS_OF, CONFIG)
    assert c.explain() == (
        "Usage -49% over the last 28 days against the 56 days before (tokens -49%)."
    )


def test_series_helpers_stay_finite_at_zero() -> None:
    assert log_ratio(0.0, 0.0) == 0.0
    assert math.isfinite(log_ratio(5.0, 0.0))
    assert squash(0.0) == 50.0
    assert 0.0 <= squash(-10.0) < 50.0 < squash(10.0) <= 100.0


def test_seasonal_echo_reads_what_the_same_weeks_brought_a_year_ago() -> None:
    today = d("2026-10-01")
    year_ago = today - timedelta(days=364)

    def rate(day: date) -> float:  # every autumn usage doubles for a while
        return 200 if year_ago + timedelta(days=5) <= day <= year_ago + timedelta(days=90) else 100

    seasonal = consumption([series("tokens", usage(rate, d("2025-06-01"), today))], today, CONFIG)
    assert seasonal.echo_period == 364
    assert seasonal.seasonal_echo == pytest.approx(math.log(2), abs=0.05)

    flat = consumption([steady("tokens", 100, d("2025-06-01"), today)], today, CONFIG)
    assert flat.seasonal_echo == pytest.approx(0.0)

    # five months of history: no year yet, a quarter back is the echo
    quarter = consumption([steady("tokens", 100, d("2026-05-01"), today)], today, CONFIG)
    assert quarter.echo_period == 91

    young = consumption([steady("tokens", 100, d("2026-08-01"), today)], today, CONFIG)
    assert young.seasonal_echo is None
