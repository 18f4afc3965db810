"""Health bands and the usage cap, service tiers without flapping, alerts on transitions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta

import pytest

from signals.alerts import flags, transitions
from signals.config import AlertRules, Bands, ScoringConfig, TierRules
from signals.evaluate import AccountSignals, score_account, to_snapshot
from signals.features import extract
from signals.health import movers
from signals.model import AccountData, Snapshot
from signals.tiers import TierState, decide_tier, value_tier
from tests.support.signal_data import (
    account,
    contract,
    d,
    days,
    dimension,
    series,
    steady,
    two_level,
    usage,
)

CONFIG = ScoringConfig()
AS_OF = d("2026-06-30")
HISTORY_START = AS_OF - timedelta(days=83)


def score(
    data: AccountData,
    as_of: date = AS_OF,
    previous: Snapshot | None = None,
    week_ago: Snapshot | None = None,
) -> AccountSignals:
    return score_account(extract(data, as_of, CONFIG), CONFIG, previous, week_ago)


# -- health ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (100.0, "healthy"),
        (70.0, "healthy"),
        (69.96, "healthy"),  # shown as 70: a card never says "70 (watch)"
        (69.4, "watch"),
        (40.0, "watch"),
        (39.6, "watch"),
        (39.4, "at risk"),
        (0.0, "at risk"),
    ],
)
def test_health_bands_follow_the_score_as_shown(value: float, band: str) -> None:
    assert Bands().band(value) == band
    assert Bands().band(float(f"{value:.0f}")) == band


def test_a_steady_account_with_nothing_else_known() -> None:
    # Flat trend 50, activity 100, support 100, steadiness 100, likelihood to stay
    # 100 x (1 - churn risk); the other components do not apply and their weight is
    # shared out: (0.26 x 50 + 0.18 x 100 + 0.10 x 100 + 0.04 x 100 + 0.20 x stay) / 0.78
    s = score(account(metrics=[steady("tokens", 100, HISTORY_START, AS_OF)]))

    stay = 100 * (1 - s.churn.probability)
    assert s.health.score == round((13 + 18 + 10 + 4 + 0.20 * stay) / 0.78, 1)
    assert s.health.band == "healthy"
    assert s.health.capped_by is None
    applied = {c.name: c.weight for c in s.health.components if c.score is not None}
    assert set(applied) == {"usage_trend", "activity", "support", "stability", "outlook"}
    assert sum(applied.values()) == pytest.approx(1.0)
    assert s.health.component("adoption") is not None
    assert s.health.component("peer") is not None
    assert s.flags == {}


def test_an_account_that_stopped_is_at_risk_and_says_why() -> None:
    # trend -3 (clipped): 0.25; 28 days without use: 100 e^(-25/7) = 2.8;
    # weekly totals 4 x 700 then 4 x 0: variation 1, steadiness 100/e = 36.8
    s = score(account(metrics=[two_level("tokens", AS_OF, 100, 0)]))

    expected = (0.26 * (50 + 50 * math.tanh(-3)) + 0.18 * 100 * math.exp(-25 / 7)) + (
        0.10 * 100 + 0.04 * 100 / math.e + 0.20 * 100 * (1 - s.churn.probability)
    )
    assert s.health.score == round(expected / 0.78, 1)
    assert s.health.band == "at risk"
    assert s.reasons()[0].startswith("Usage trend: Usage ")
    assert s.reasons()[1] == "Recent activity: Last meaningful usage 28 days ago (2026-06-02)."
    assert set(s.flags) == {"usage_drop", "inactive"}
    assert s.churn.probability > 0.5 > s.expansion.probability


def test_a_collapsing_usage_trend_caps_the_score() -> None:
    # Down from 100 to 15 a day: still active daily (15 events clear the 10-event
    # bar), so activity stays 100, but the trend is log(476/2856) = log(1/6) and
    # scores 50 - 50 x 35/37 = 2.7. Uncapped, the rest would lift the score to
    # about 53; the cap holds it at 2.7 + 35.
    s = score(account(metrics=[two_level("tokens", AS_OF, 100, 15)]))

    trend = s.health.component("usage_trend")
    assert trend is not None
    assert trend.score == pytest.approx(100 / 37)
    assert s.health.score == round(100 / 37 + 35, 1) == 37.7
    assert s.health.band == "at risk"
    assert s.health.capped_by == "usage_trend"
    assert s.reasons()[0].startswith("Usage trend holds the score down: Usage -83%")
    assert s.flags.keys() == {"usage_drop"}


def test_no_usage_and_no_start_date_is_neutral_activity() -> None:
    s = score(account())
    activity = s.health.component("activity")
    assert activity is not None
    assert activity.score == 50.0
    assert activity.detail == "Not used yet."
    assert s.health.component("usage_trend") is not None
    assert 0.0 <= s.health.score <= 100.0


@pytest.mark.parametrize(
    ("go_live", "activity_score", "detail"),
    [
        # live 10 days ago, not used yet: still onboarding, neither good nor bad
        pytest.param(AS_OF - timedelta(days=10), 50.0, "not yet (10 of 14 days)", id="onboarding"),
        # live 40 days ago and never used: time to value missed, activity counts as none
        pytest.param(AS_OF - timedelta(days=40), 0.0, "not reached after 40 days", id="never-used"),
    ],
)
def test_an_account_not_used_yet_is_judged_by_its_time_to_value(
    go_live: date, activity_score: float, detail: str
) -> None:
    s = score(account(go_live_date=go_live))
    activity = s.health.component("activity")
    assert activity is not None
    assert activity.score == activity_score
    assert detail in activity.detail
    if activity_score:
        assert s.health.band != "at risk"
        assert "ttv_missed" not in s.flags
    else:
        assert s.health.band == "at risk"
        assert "ttv_missed" in s.flags


@pytest.mark.parametrize(
    ("committed", "prices", "as_of", "pace"),
    [
        # 36,500 of 100,000 by term end at 100/day: (0.365 - 0.3) / 0.6
        pytest.param(100_000, {"tokens": 1.0}, d("2026-04-10"), 0.065 / 0.6 * 100, id="under"),
        pytest.param(36_500, {"tokens": 1.0}, d("2026-04-10"), 100.0, id="on-pace"),
        pytest.param(100_000, {"tokens": 1.0}, d("2027-01-15"), None, id="ended"),
        pytest.param(100_000, {"tokens": 0.0}, d("2026-04-10"), None, id="zero-prices"),
        pytest.param(0, {"tokens": 1.0}, d("2026-04-10"), None, id="no-commit"),
    ],
)
def test_commit_pace_counts_only_for_a_live_priced_commit(
    committed: float, prices: dict[str, float], as_of: date, pace: float | None
) -> None:
    terms = contract(d("2026-01-01"), d("2026-12-31"), committed, prices)
    tokens = steady("tokens", 100, d("2026-01-01"), as_of)
    s = score(account(metrics=[tokens], contracts=[terms]), as_of)
    component = s.health.component("commit_pace")
    assert component is not None
    assert component.score == (None if pace is None else pytest.approx(pace))
    assert (s.features.spend is None) is (prices["tokens"] == 0.0)


def test_leap_day_scoring() -> None:
    leap = d("2028-02-29")
    terms = contract(d("2027-10-01"), d("2028-09-30"), 36_600, {"tokens": 1.0})
    tokens = steady("tokens", 100, d("2027-10-01"), leap)
    s = score(account(metrics=[tokens], contracts=[terms]), leap)
    snap = to_snapshot(s)
    assert snap.day == leap
    assert snap.projected_month_spend == 2_900.0
    assert snap.exhaustion_date == d("2028-09-30")  # 36,600 at 100/day: the last day
    assert s.health.band == "healthy"


def test_movers_name_what_changed_the_score_most() -> None:
    # weights 0.26, 0.18 and 0.04 of 0.78: activity 100 -> 2.8 moves it most
    s = score(account(metrics=[two_level("tokens", AS_OF, 100, 0)]))
    before = {"usage_trend": 50.0, "activity": 100.0, "support": 100.0, "stability": 100.0}

    moved = movers(s.health, before)

    assert [m.name for m in moved] == ["activity", "usage_trend", "stability"]
    assert moved[1].points == pytest.approx(0.26 / 0.78 * (50 + 50 * math.tanh(-3) - 50))
    assert moved[1].words() == "Usage trend cost 16.6 points"
    unchanged = {c.name: c.score for c in s.health.components}
    assert movers(s.health, unchanged) == []


# -- tiers -------------------------------------------------------------------------

RULES = TierRules()


@pytest.mark.parametrize(
    ("value", "current", "expected"),
    [
        (250_000, None, "strategic"),
        (249_999, None, "scaled"),
        (230_000, "strategic", "strategic"),  # within 10% below the line: stays
        (225_000, "strategic", "strategic"),
        (224_999, "strategic", "scaled"),
        (230_000, "scaled", "scaled"),  # moving up needs the full line
        (50_000, None, "scaled"),
        (46_000, "scaled", "scaled"),
        (44_999, "scaled", "digital"),
        (46_000, None, "digital"),
        (46_000, "digital", "digital"),
        (0, None, "digital"),
    ],
)
def test_value_tiers_with_hysteresis(value: float, current: str | None, expected: str) -> None:
    assert value_tier(value, current, RULES) == expected


def run_tiers(
    healths: Sequence[float],
    *,
    value: float = 10_000,
    rules: TierRules = RULES,
    start: date = AS_OF,
    previous: TierState | None = None,
) -> list[tuple[str, str]]:
    """Tier an account once a day through the given healths: (tier, reason) per day."""
    out = []
    for i, h in enumerate(healths):
        decision = decide_tier(
            value=value,
            health=h,
            as_of=start + timedelta(days=i),
            previous=previous,
            rules=rules,
        )
        previous = decision.state
        out.append((decision.state.tier, decision.reason))
    return out


def test_a_digital_account_in_poor_health_is_escalated_at_once() -> None:
    tiers = run_tiers([80, 35])
    assert tiers[0] == ("digital", "Digital by annual value ($10,000)")
    assert tiers[1] == ("scaled", "Escalated to scaled: health 35 fell below 40")


def test_escalated_on_first_sight() -> None:
    ((tier, reason),) = run_tiers([35])
    assert tier == "scaled"
    assert reason == "Scaled: digital by value ($10,000/yr) but health is 35"


def test_escalation_ends_after_28_days_above_60() -> None:
    # escalated on day 0, then healthy (61) from day 1: day 28 is the 28th such day
    tiers = run_tiers([35] + [61] * 28)
    assert [t for t, _ in tiers[:28]] == ["scaled"] * 28
    assert tiers[27][1] == "Escalated until health has recovered for a while"
    assert tiers[28] == ("digital", "Back to digital: health above 60 for 28 days")


@pytest.mark.parametrize(
    ("dip", "why"),
    [
        pytest.param(50, "between the lines", id="50"),
        pytest.param(60, "at the line is not above it", id="60"),
    ],
)
def test_a_dip_restarts_the_recovery_count(dip: float, why: str) -> None:
    # healthy days 1-10, a dip on day 11, healthy again from day 12: back on day 39
    tiers = run_tiers([35] + [61] * 10 + [dip] + [61] * 28)
    assert [t for t, _ in tiers[:39]] == ["scaled"] * 39, why
    assert tiers[39][0] == "digital"


def test_health_falling_again_keeps_the_escalation() -> None:
    tiers = run_tiers([35, 61, 61, 30])
    assert tiers[3] == ("scaled", "Still escalated: health below the recovery line")


def test_no_move_down_within_the_minimum_dwell() -> None:
    quick = replace(RULES, recovery_days=3)
    tiers = run_tiers([35] + [61] * 14, rules=quick)
    assert tiers[3] == ("scaled", "Stays scaled: moved here 3 days ago")
    assert [t for t, _ in tiers[:14]] == ["scaled"] * 14
    assert tiers[14][0] == "digital"  # 14 days after the escalation


def test_a_fall_in_value_moves_down_after_the_dwell_and_says_why() -> None:
    rules = RULES
    day0 = decide_tier(value=60_000, health=80, as_of=AS_OF, previous=None, rules=rules)
    assert day0.state.tier == "scaled"

    state = day0.state
    moves = []
    for i in range(1, 15):
        decision = decide_tier(
            value=40_000, health=80, as_of=AS_OF + timedelta(days=i), previous=state, rules=rules
        )
        state = decision.state
        moves.append(decision)

    assert [m.state.tier for m in moves[:13]] == ["scaled"] * 13
    assert moves[4].reason == "Stays scaled: moved here 5 days ago"
    last = moves[13]
    assert last.changed
    assert last.state.tier == "digital"
    assert last.state.since == AS_OF + timedelta(days=14)
    assert last.reason == "Annual value fell below the scaled threshold"


def test_a_fall_from_strategic_says_the_value_put_it_in_scaled() -> None:
    day0 = decide_tier(value=300_000, health=80, as_of=AS_OF, previous=None, rules=RULES)
    later = day0.state
    decision = None
    for i in range(1, 15):
        decision = decide_tier(
            value=100_000, health=80, as_of=AS_OF + timedelta(days=i), previous=later, rules=RULES
        )
        later = decision.state
    assert decision is not None
    assert decision.changed
    assert decision.state.tier == "scaled"
    assert decision.reason == "Annual value now puts it in scaled"


def test_strategic_and_scaled_accounts_are_not_escalated_by_health() -> None:
    assert run_tiers([80, 10], value=300_000)[1][0] == "strategic"
    assert run_tiers([80, 10], value=60_000)[1][0] == "scaled"


def test_tier_since_is_kept_while_the_tier_holds() -> None:
    first = decide_tier(value=60_000, health=80, as_of=AS_OF, previous=None, rules=RULES)
    later = decide_tier(
        value=47_000, health=80, as_of=AS_OF + timedelta(days=40), previous=first.state, rules=RULES
    )
    assert later.state.tier == "scaled"  # within the 10% hysteresis
    assert later.state.since == AS_OF
    assert not later.changed


def test_annual_value_is_arr_else_the_commit_scaled_to_a_year() -> None:
    terms = contract(d("2026-01-01"), d("2026-06-30"), 18_100, {"tokens": 1.0})  # 181 days
    with_arr = extract(account(arr=75_000, contracts=[terms]), AS_OF, CONFIG)
    without = extract(account(contracts=[terms]), AS_OF, CONFIG)
    assert with_arr.annual_value == 75_000
    assert without.annual_value == pytest.approx(18_100 * 365 / 181)
    assert extract(account(), AS_OF, CONFIG).annual_value == 0.0


# -- alerts --------------------------------------------------------------------------


def stopped(ten_days_before: date, resume: date | None = None) -> AccountData:
    """100 a day until ten days before `ten_days_before`, and again from `resume`."""
    stop = ten_days_before - timedelta(days=10)

    def rate(day: date) -> float:
        return 100 if day <= stop or (resume is not None and day >= resume) else 0

    last = resume or ten_days_before
    return account(
        metrics=[series("tokens", usage(rate, ten_days_before - timedelta(days=120), last))],
        csm="carl@example.com",
        ae="ann@example.com",
    )


def test_an_alert_fires_once_when_its_flag_appears_and_resolves_when_it_clears() -> None:
    day1 = score(stopped(AS_OF))
    assert [(a.key, a.severity, a.owner, a.resolved) for a in day1.alerts] == [
        ("inactive", "high", "carl@example.com", False)
    ]
    assert day1.alerts[0].evidence == "No meaningful usage for 10 days (last 2026-06-20)."

    day2 = score(stopped(AS_OF), AS_OF + timedelta(days=1), previous=to_snapshot(day1))
    assert "inactive" in day2.flags
    assert day2.alerts == ()

    resumed = stopped(AS_OF, resume=AS_OF + timedelta(days=2))
    day3 = score(resumed, AS_OF + timedelta(days=2), previous=to_snapshot(day2))
    assert "inactive" not in day3.flags
    assert [(a.key, a.title, a.severity, a.resolved) for a in day3.alerts] == [
        ("inactive", "Meaningful usage is back", "info", True)
    ]


def test_without_an_earlier_evaluation_every_flag_is_new_and_none_resolved() -> None:
    f = extract(stopped(AS_OF), AS_OF, CONFIG)
    now = {"inactive": "x", "usage_drop": "y"}
    assert [a.key for a in transitions(f, now, None)] == ["inactive", "usage_drop"]
    assert [(a.key, a.resolved) for a in transitions(f, {}, ["inactive"])] == [("inactive", True)]
    assert transitions(f, now, ["usage_drop", "inactive"]) == []


def test_expansion_signals_go_to_the_account_executive() -> None:
    data = stopped(AS_OF)
    f = extract(data, AS_OF, CONFIG)
    (alert,) = transitions(f, {"new_use_case:voice": "voice first used"}, [])
    assert (alert.kind, alert.owner, alert.owner_role) == ("new_use_case", "ann@example.com", "ae")
    no_ae = replace(f, account=replace(f.account, ae=None))
    (alert,) = transitions(no_ae, {"new_use_case:voice": "voice first used"}, [])
    assert (alert.owner, alert.owner_role) == ("carl@example.com", "csm")


@pytest.mark.parametrize(
    ("week_ago", "now", "fires"),
    [
        pytest.param(80.0, 65.0, True, id="15-points"),
        pytest.param(80.0, 65.1, False, id="14.9-points"),
        pytest.param(None, 10.0, False, id="no-week-ago"),
    ],
)
def test_health_drop_over_a_week(week_ago: float | None, now: float, fires: bool) -> None:
    f = extract(account(metrics=[steady("tokens", 100, HISTORY_START, AS_OF)]), AS_OF, CONFIG)
    assert ("health_drop" in flags(f, now, week_ago, AlertRules())) is fires


def test_health_drop_through_the_week_ago_snapshot() -> None:
    data = account(metrics=[two_level("tokens", AS_OF, 100, 0)])
    first = score(data)
    week_ago = replace(to_snapshot(first), score=first.health.score + 20)
    s = score(data, previous=to_snapshot(first), week_ago=week_ago)
    assert "health_drop" in s.flags
    assert s.change == -20.0
    assert [a.key for a in s.alerts] == ["health_drop"]


@pytest.mark.parametrize(
    ("after", "flagged"),
    [
        pytest.param(60, False, id="-39%"),  # log(1736/2856) = -0.50 > log(0.6)
        pytest.param(55, True, id="-44%"),
    ],
)
def test_usage_drop_flag(after: float, flagged: bool) -> None:
    f = extract(account(metrics=[two_level("tokens", AS_OF, 100, after)]), AS_OF, CONFIG)
    assert ("usage_drop" in flags(f, 70.0, None, AlertRules())) is flagged


def test_commit_flags_and_bill_shock() -> None:
    prices = {"tokens": 1.0}
    early = contract(d("2026-01-01"), d("2026-12-31"), 19_000, prices)
    under = contract(d("2026-01-01"), d("2026-12-31"), 100_000, prices, budget=100.0)
    tokens = steady("tokens", 100, d("2026-01-01"), AS_OF)

    early_flags = flags(
        extract(account(metrics=[tokens], contracts=[early]), AS_OF, CONFIG),
        70.0,
        None,
        AlertRules(),
    )
    under_flags = flags(
        extract(account(metrics=[tokens], contracts=[under]), AS_OF, CONFIG),
        70.0,
        None,
        AlertRules(),
    )

    assert "commit_early" in early_flags
    assert "bill_shock" not in early_flags
    assert "commit_under_use" in under_flags
    # June heads for a usual 3,000: over a 100 budget, but no shock without a jump in use
    assert "bill_shock" not in under_flags


def test_a_commit_running_out_early_alerts_once_and_does_not_resolve_when_it_runs_out() -> None:
    # 19,000 at 100/day runs out on 9 July, 175 days before the term ends.
    terms = contract(d("2026-01-01"), d("2026-12-31"), 19_000, {"tokens": 1.0})
    tokens = steady("tokens", 100, d("2026-01-01"), d("2026-12-31"))
    data = account(metrics=[tokens], contracts=[terms], ae="ann@example.com")
    previous = None
    seen = []
    for day in ["2026-07-07", "2026-07-08", "2026-07-09", "2026-07-10", "2026-12-15"]:
        s = score(data, d(day), previous=previous)
        commit = sorted(k for k in s.flags if k.startswith("commit"))
        seen.append((day, commit, [a.title for a in s.alerts]))
        previous = to_snapshot(s)
    assert seen == [
        ("2026-07-07", ["commit_early"], ["Commit runs out early"]),
        ("2026-07-08", ["commit_early"], []),
        # used up: in overage, news for the AE; running out early is not "resolved"
        ("2026-07-09", ["commit_overage"], ["Commit in overage"]),
        ("2026-07-10", ["commit_overage"], []),
        ("2026-12-15", ["commit_overage"], []),
    ]
    assert all(a.owner == "ann@example.com" for a in score(data, d("2026-07-09")).alerts)


def test_a_commit_used_up_on_its_last_day_is_not_early() -> None:
    terms = contract(d("2026-01-01"), d("2026-12-31"), 36_500, {"tokens": 1.0})
    tokens = steady("tokens", 100, d("2026-01-01"), d("2026-12-31"))
    f = extract(account(metrics=[tokens], contracts=[terms]), d("2026-12-31"), CONFIG)
    assert f.commit is not None
    assert f.commit.status == "exhausted"
    assert "commit_early" not in flags(f, 70.0, None, AlertRules())


def test_new_use_case_flag_per_feature() -> None:
    dims = [
        dimension("team", "support", days(HISTORY_START, AS_OF)),
        dimension("feature", "voice", days(d("2026-06-20"), AS_OF)),
    ]
    data = account(metrics=[steady("tokens", 100, HISTORY_START, AS_OF)], dimensions=dims)
    found = flags(extract(data, AS_OF, CONFIG), 70.0, None, AlertRules())
    assert found["new_use_case:voice"] == (
        "voice first used on 2026-06-20; usage +0% on the month before."
    )


def test_time_to_value_missed_flag() -> None:
    go_live = AS_OF - timedelta(days=20)
    weekly = series("tokens", {go_live: 5, go_live + timedelta(days=7): 5})
    data = account(metrics=[weekly], go_live_date=go_live)
    found = flags(extract(data, AS_OF, CONFIG), 70.0, None, AlertRules())
    assert found["ttv_missed"] == "First value: not reached after 20 days (target 14)."


def test_snapshot_records_what_the_next_evaluation_builds_on() -> None:
    s = score(stopped(AS_OF))
    snap = to_snapshot(s)
    assert snap.account_id == "acme"
    assert snap.day == AS_OF
    assert snap.score == s.health.score
    assert snap.flags == ("inactive",)
    assert snap.tier == s.tier.state.tier
    tier_detail = snap.detail["tier"]
    assert isinstance(tier_detail, Mapping)
    assert tier_detail["escalated"] == s.tier.state.escalated


def test_news_is_not_followed_by_a_resolved_alert_but_problems_are() -> None:
    f = extract(account(csm="csm@x", ae="ae@x"), AS_OF, ScoringConfig())
    cleared = transitions(f, {}, ["new_use_case:voice", "usage_drop"])
    assert [(a.key, a.resolved, a.owner) for a in cleared] == [("usage_drop", True, "csm@x")]


def test_a_notable_week_leads_the_reasons_with_what_moved_it() -> None:
    data = account(metrics=[two_level("tokens", AS_OF, 100, 0)])
    now = score(data)
    before = {**{c.name: c.score for c in now.health.components}, "activity": 100.0}
    week_ago = replace(to_snapshot(now), score=now.health.score + 12, components=before)
    s = score(data, week_ago=week_ago)
    assert s.reasons()[0].startswith("-12 since last week: recent activity cost ")
    quiet_week = replace(week_ago, score=now.health.score + 3)
    assert not score(data, week_ago=quiet_week).reasons()[0].startswith("-3 since last week")


def test_churn_risk_of_an_account_not_used_yet_follows_its_time_to_value() -> None:
    onboarding = score(account(go_live_date=AS_OF - timedelta(days=10)))
    stalled = score(account(go_live_date=AS_OF - timedelta(days=60)))
    assert onboarding.churn.probability < 0.1
    assert stalled.churn.probability > 0.5
    assert "days without meaningful usage" in stalled.churn.top()


def test_the_snapshot_keeps_the_weeks_anomalies_for_the_details_view() -> None:
    quiet_wednesday = d("2026-06-24")

    def rate(day: date) -> float:
        return 0 if day == quiet_wednesday else (100 if day.weekday() < 5 else 10)

    snap = to_snapshot(
        score(account(metrics=[series("tokens", usage(rate, d("2026-03-01"), AS_OF))]))
    )
    assert snap.detail["anomalies"] == [
        {
            "metric": "tokens",
            "day": "2026-06-24",
            "actual": 0.0,
            "expected": 100.0,
            "direction": "drop",
        }
    ]


@pytest.mark.parametrize(
    ("committed", "held", "flagged"),
    [
        pytest.param(34_500, (), False, id="20-days-early-is-not-news"),
        pytest.param(34_500, ("commit_early",), True, id="but-an-open-alert-stays-open"),
        pytest.param(35_500, ("commit_early",), False, id="10-days-early-closes-it"),
        pytest.param(30_000, (), True, id="runs-out-months-early"),
    ],
)
def test_a_commit_running_out_early_has_hysteresis(
    committed: float, held: tuple[str, ...], flagged: bool
) -> None:
    terms = contract(d("2026-01-01"), d("2026-12-31"), committed, {"tokens": 1.0})
    tokens = steady("tokens", 100, d("2026-01-01"), AS_OF)
    f = extract(account(metrics=[tokens], contracts=[terms]), AS_OF, CONFIG)
    found = flags(f, 70.0, None, AlertRules(), held=held)
    assert ("commit_early" in found) is flagged
    if flagged:
        assert found["commit_early"].startswith("Runs out early: ")


def test_usage_back_to_usual_after_a_runaway_job_is_not_a_drop() -> None:
    first = AS_OF - timedelta(days=83)
    spike_day = AS_OF - timedelta(days=50)  # in the baseline window
    spiky = series("tokens", usage(lambda day: 8_100 if day == spike_day else 100, first, AS_OF))
    f = extract(account(metrics=[spiky]), AS_OF, CONFIG)
    assert f.consumption.trend is not None
    assert f.consumption.trend < math.log(0.6)  # the spike inflates the baseline
    assert "usage_drop" not in flags(f, 70.0, None, AlertRules())
    # nor is the score falling as the spike leaves the baseline a health drop
    assert "health_drop" not in flags(f, 60.0, 80.0, AlertRules())
    # a real fall, after the same spike, still alerts
    falling = series(
        "tokens",
        usage(
            lambda day: (
                8_100 if day == spike_day else (100 if day < AS_OF - timedelta(days=20) else 10)
            ),
            first,
            AS_OF,
        ),
    )
    g = extract(account(metrics=[falling]), AS_OF, CONFIG)
    assert "usage_drop" in flags(g, 70.0, None, AlertRules())
    assert "health_drop" in flags(g, 60.0, 80.0, AlertRules())


def _spiking(spike: tuple[date, date]) -> AccountData:
    """100 tokens a day since January at $1 each (a usual month: $3,000), 400 a day
    during ``spike``; a $3,200 budget a month."""
    first, last = spike
    rate = lambda day: 400.0 if first <= day <= last else 100.0  # noqa: E731
    terms = contract(d("2026-01-01"), d("2026-12-31"), 200_000, {"tokens": 1.0}, budget=3_200)
    return account(
        metrics=[series("tokens", usage(rate, d("2026-01-01"), d("2026-07-31")))], contracts=[terms]
    )


def test_a_bill_shock_cleared_within_its_month_is_a_win_but_one_that_ended_with_it_is_not() -> None:
    # June 1-3 at 400/day: on 3 June the month heads for 1,200 + 27 x 400 = 12,000.
    calmed = _spiking((d("2026-06-01"), d("2026-06-03")))
    warned = score(calmed, d("2026-06-03"))
    assert [(a.kind, a.title) for a in warned.alerts if a.kind == "bill_shock"] == [
        ("bill_shock", "Bill-shock risk")
    ]
    # By 14 June a week and more at 100/day: 2,300 + 16 x 100 = 3,900, under 1.5 x a
    # usual 3,000: the warning clears inside June, which is news.
    later = score(calmed, d("2026-06-14"), previous=to_snapshot(warned))
    assert [(a.title, a.resolved) for a in later.alerts] == [("Bill-shock risk cleared", True)]

    # 10-24 June at 400/day: June spends 7,500, more than the usual month and the budget
    # for certain, so the warning stands to the month's end; on 2 July June is over (its
    # invoice is what it is) and July is calm: nothing "cleared", no win.
    to_the_end = _spiking((d("2026-06-10"), d("2026-06-24")))
    june = score(to_the_end, d("2026-06-30"))
    assert any(a.kind == "bill_shock" for a in june.alerts)
    assert "bill_shock:2026-06" in june.flags
    july = score(to_the_end, d("2026-07-02"), previous=to_snapshot(june))
    assert not any(k.startswith("bill_shock") for k in july.flags)
    assert not any(a.kind == "bill_shock" for a in july.alerts)
