"""Backtest labels, ROC AUC, lift by decile and the logistic fits, by hand."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from signals.backtest import (
    baselines,
    compare,
    lift_by_decile,
    outcome,
    roc_auc,
    silence_days,
)
from signals.calibrate import (
    Array,
    TrainingRow,
    feature_names,
    fit_health_weights,
    fit_logistic,
    fit_model,
    metric_weights,
)
from signals.config import COMPONENTS
from signals.model import AccountData
from tests.support.signal_data import account, contract, d, series, steady, usage

CUT = d("2026-06-30")
HORIZON = 90
END = CUT + timedelta(days=HORIZON)  # 28 Sep: the "after" window is 1-28 Sep
FIRST_USE = d("2026-03-01")


def history(
    after_per_day: float,
    *,
    first: date = FIRST_USE,
    quiet_from: date | None = None,
    churned: date | None = None,
) -> AccountData:
    """100 a day from `first` to the cut-off, then `after_per_day` (zero from `quiet_from`)."""

    def rate(day: date) -> float:
        if quiet_from is not None and day >= quiet_from:
            return 0
        return 100 if day <= CUT else after_per_day

    return account(
        metrics=[series("tokens", usage(rate, first, END + timedelta(days=30)))],
        churned_date=churned,
    )


@pytest.mark.parametrize(
    ("data", "eligible", "churned", "expanded"),
    [
        pytest.param(history(100), True, False, False, id="steady"),
        # the last 28 days at 30% of the 28 before the cut-off (840 of 2,800) is churn
        pytest.param(history(30), True, True, False, id="down-to-30%"),
        pytest.param(history(31), True, False, False, id="down-to-31%"),
        pytest.param(history(150), True, False, True, id="up-to-150%"),
        pytest.param(history(149), True, False, False, id="up-to-149%"),
        # 1,400 in the window is well above 30%, but nothing in its last 14 days
        pytest.param(history(100, quiet_from=d("2026-09-15")), True, True, False, id="quiet"),
        pytest.param(history(100, churned=d("2026-08-01")), True, True, False, id="crm-churn"),
        pytest.param(history(200, churned=d("2026-08-01")), True, True, False, id="crm-wins"),
        pytest.param(history(100, churned=d("2026-06-30")), False, False, False, id="gone"),
        pytest.param(history(100, first=d("2026-06-10")), False, False, False, id="too-new"),
        pytest.param(history(100, first=d("2026-06-02")), True, False, False, id="just-old-enough"),
        # a daily user idle for a month at the cut-off had already churned: not judged
        pytest.param(
            history(100, quiet_from=d("2026-06-01")), False, False, False, id="idle-before-cut"
        ),
    ],
)
def test_outcome_labels(data: AccountData, eligible: bool, churned: bool, expanded: bool) -> None:
    o = outcome(data, CUT, HORIZON)
    assert (o.eligible, o.churned, o.expanded) == (eligible, churned, expanded)
    assert o.measure == "events"


def test_outcome_windows() -> None:
    o = outcome(history(150), CUT, HORIZON)
    assert o.before == pytest.approx(2_800)
    assert o.after == pytest.approx(4_200)


def test_outcome_is_measured_in_spend_when_every_metric_is_priced() -> None:
    terms = contract(FIRST_USE, d("2027-02-28"), 100_000, {"tokens": 2.0, "images": 0.5})
    tokens = steady("tokens", 100, FIRST_USE, END)
    images = steady("images", 10, FIRST_USE, END)
    o = outcome(account(metrics=[tokens, images], contracts=[terms]), CUT, HORIZON)
    assert o.measure == "spend"
    assert o.before == pytest.approx(28 * (200 + 5))

    unpriced = contract(FIRST_USE, d("2027-02-28"), 100_000, {"tokens": 2.0})
    o = outcome(account(metrics=[tokens, images], contracts=[unpriced]), CUT, HORIZON)
    assert o.measure == "events"
    assert o.before == pytest.approx(28 * 110)


def test_outcome_ignores_data_beyond_the_horizon() -> None:
    within = history(100)
    tokens = within.metrics[0]
    beyond = usage(lambda _: 10_000, END + timedelta(days=31), END + timedelta(days=60))
    longer = account(
        metrics=[series("tokens", dict(zip(tokens.days, tokens.quantity, strict=True)) | beyond)]
    )
    assert outcome(longer, CUT, HORIZON) == outcome(within, CUT, HORIZON)


def test_simple_baselines() -> None:
    data = account(
        metrics=[
            series(
                "tokens",
                usage(lambda day: 50 if day > CUT - timedelta(days=28) else 100, FIRST_USE, CUT),
            )
        ]
    )
    b = baselines(data, CUT + timedelta(days=3))
    assert b.days_since_last_use == 3
    assert b.volume_28d == pytest.approx(25 * 50)
    # the 28 days before: 25 days at 100 (9 May - 2 June), 3 at 50 (3-5 June)
    assert b.trend_28d == pytest.approx(math.log((1250 + 1) / (25 * 100 + 3 * 50 + 1)))
    assert baselines(account(), CUT).days_since_last_use == 10_000


@pytest.mark.parametrize(
    ("scores", "labels", "auc"),
    [
        pytest.param([0.1, 0.2, 0.8, 0.9], [False, False, True, True], 1.0, id="perfect"),
        pytest.param([0.9, 0.8, 0.2, 0.1], [False, False, True, True], 0.0, id="reversed"),
        pytest.param([0.5, 0.5, 0.5, 0.5], [False, True, False, True], 0.5, id="all-ties"),
        # pairs: 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4: three of four
        pytest.param([0.1, 0.4, 0.35, 0.8], [False, False, True, True], 0.75, id="3-of-4"),
        # pairs: a tie (half) and a win
        pytest.param([0.5, 0.5, 0.9], [False, True, True], 0.75, id="a-tie-counts-half"),
    ],
)
def test_roc_auc(scores: list[float], labels: list[bool], auc: float) -> None:
    assert roc_auc(scores, labels) == pytest.approx(auc)


def test_roc_auc_needs_both_classes() -> None:
    assert roc_auc([0.1, 0.2], [True, True]) is None
    assert roc_auc([0.1, 0.2], [False, False]) is None
    assert roc_auc([], []) is None


def test_lift_by_decile() -> None:
    # 20 accounts, the two highest scores are the only positives: a 10% base rate
    scores = [float(i) for i in range(20)]
    labels = [i >= 18 for i in range(20)]

    deciles = lift_by_decile(scores, labels)

    assert [x.decile for x in deciles] == list(range(1, 11))
    assert [x.accounts for x in deciles] == [2] * 10
    assert (deciles[0].positives, deciles[0].rate, deciles[0].lift) == (2, 1.0, 10.0)
    assert all(x.lift == 0.0 for x in deciles[1:])


def test_lift_without_positives_or_accounts() -> None:
    assert all(x.lift == 0.0 for x in lift_by_decile([1.0, 2.0], [False, False]))
    assert lift_by_decile([], []) == []


def test_compare_reports_auc_and_top_decile_lift_per_predictor() -> None:
    labels = [i >= 18 for i in range(20)]
    good = [float(i) for i in range(20)]
    bad = [-x for x in good]
    results = compare("churn", labels, [("model", good, "model"), ("volume", bad, "baseline")])
    assert [(r.predictor, r.auc, r.top_decile_lift, r.is_model) for r in results] == [
        ("model", 1.0, 10.0, True),
        ("volume", 0.0, 0.0, False),
    ]


def _synthetic(coef: float, n: int = 600, seed: int = 7) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    noise = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-0.5 + coef * signal)))
    y = (rng.random(n) < p).astype(np.float64)
    x = np.column_stack([np.ones(n), signal, noise])
    return x, y


@pytest.mark.parametrize("coef", [2.0, -2.0])
def test_fit_logistic_recovers_the_sign_of_a_known_coefficient(coef: float) -> None:
    x, y = _synthetic(coef)
    w = fit_logistic(x, y)
    assert np.sign(w[1]) == np.sign(coef)
    assert abs(w[1]) > 1.0  # strong, as generated
    assert abs(w[2]) < 0.3  # the noise column explains nothing


def _rows(coef: float, n: int = 400) -> list[TrainingRow]:
    x, y = _synthetic(coef, n)
    return [
        TrainingRow(
            vector={"trend": float(x[i, 1]), "noise": float(x[i, 2])},
            components={},
            churned=bool(y[i]),
            expanded=False,
        )
        for i in range(n)
    ]


def test_fit_model_gives_coefficients_in_the_features_own_units() -> None:
    fitted = fit_model(_rows(-2.0), "churned", ["trend", "noise"])
    assert fitted is not None
    assert fitted.rows == 400
    assert fitted.coefficients["trend"] < -1.0  # falling usage foretells churn
    assert abs(fitted.coefficients.get("noise", 0.0)) < 0.3


@pytest.mark.parametrize(("positives", "fits"), [(4, False), (5, True), (35, True), (36, False)])
def test_fit_model_needs_five_cases_of_each_class(positives: int, fits: bool) -> None:
    rows = [
        TrainingRow(r.vector, r.components, churned=i < positives, expanded=False)
        for i, r in enumerate(_rows(-2.0, 40))
    ]
    fitted = fit_model(rows, "churned", ["trend"])
    assert (fitted is not None) is fits
    if fitted is not None:
        assert fitted.positives == positives


def test_health_weights_favour_the_component_whose_fall_foretold_churn() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(300):
        trend = float(rng.uniform(0, 100))
        support = float(rng.uniform(0, 100))
        churned = bool(rng.random() < 1 / (1 + math.exp((trend - 40) / 8)))
        components: dict[str, float | None] = dict.fromkeys(COMPONENTS, 50.0)
        components |= {"usage_trend": trend, "support": support, "peer": None}
        rows.append(TrainingRow({}, components, churned, False))

    weights = fit_health_weights(rows)

    assert weights is not None
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert max(weights, key=lambda k: weights[k]) == "usage_trend"
    assert weights["usage_trend"] > 0.8


def test_metrics_whose_rise_foretold_churn_count_against_the_trend() -> None:
    rows = _rows(-2.0)
    churn = fit_model(rows, "churned", ["trend"])
    assert churn is not None
    churn.coefficients.update({"metric:errors": 0.5, "metric:tokens": -0.4})
    assert metric_weights(churn, {"tokens": 1.0, "api": 2.0}) == {
        "tokens": 1.0,
        "api": 2.0,
        "errors": -1.0,
    }


def test_feature_names_put_model_features_first() -> None:
    rows = [
        TrainingRow({"trend": 1.0, "metric:tokens": 0.1}, {}, False, False),
        TrainingRow({"peer": 1.0, "metric:api": 0.1}, {}, False, False),
    ]
    assert feature_names(rows) == ["peer", "trend", "metric:api", "metric:tokens"]


@pytest.mark.parametrize(
    ("spike_days", "expanded"),
    [
        # a one-week burst at 4x: the month totals 1.75x, but three weeks are as usual
        pytest.param(range(1, 8), False, id="one-week-spike"),
        # the same 4x over the last three weeks and a day: sustained growth
        pytest.param(range(8, 29), True, id="three-weeks-up"),
    ],
)
def test_a_one_off_spike_is_not_an_expansion(spike_days: range, expanded: bool) -> None:
    spike = {END - timedelta(days=28 - k) for k in spike_days}

    def rate(day: date) -> float:
        return 400 if day in spike else 100

    data = account(metrics=[series("tokens", usage(rate, FIRST_USE, END))])
    o = outcome(data, CUT, HORIZON)
    assert o.after >= 1.5 * o.before
    assert o.expanded is expanded


def buyer(purchases: list[date]) -> AccountData:
    """A customer who buys now and then: one event on each of these days."""
    return account(metrics=[series("orders", dict.fromkeys(purchases, 1.0))])


MONTHLY = [CUT - timedelta(days=30 * k) for k in range(6)]  # the last on the cut-off day


@pytest.mark.parametrize(
    ("after", "churned"),
    [
        # usual gap 30 days: silence must last the whole 90-day horizon (3 gaps, capped)
        pytest.param([], True, id="nothing-in-the-horizon"),
        pytest.param([CUT + timedelta(days=40)], False, id="bought-once-50-days-before-the-end"),
        pytest.param([CUT + timedelta(days=5)], False, id="bought-early-then-quiet-85-days"),
    ],
)
def test_a_monthly_buyer_is_judged_by_its_own_rhythm(after: list[date], churned: bool) -> None:
    o = outcome(buyer(MONTHLY + after), CUT, HORIZON)
    assert o.eligible
    assert o.churned is churned


def test_a_daily_user_quiet_for_the_horizons_last_two_weeks_has_churned() -> None:
    """The same silence that means nothing for a monthly buyer is churn for a daily user."""
    quiet = history(100, quiet_from=END - timedelta(days=13))
    assert outcome(quiet, CUT, HORIZON).churned
    monthly_quiet = buyer([*MONTHLY, END - timedelta(days=20)])
    assert not outcome(monthly_quiet, CUT, HORIZON).churned


def test_silence_needed_grows_with_the_usual_gap_between_the_bounds() -> None:
    assert silence_days(1.0, 90) == 14
    assert silence_days(10.0, 90) == 30
    assert silence_days(45.0, 90) == 90
    assert silence_days(None, 60) == 60
    assert silence_days(1.0, 21) == 10  # a short horizon: half of it


def test_a_one_time_buyer_with_no_rhythm_must_be_silent_for_the_whole_horizon() -> None:
    once = buyer([CUT - timedelta(days=60)])
    assert outcome(once, CUT, HORIZON).churned
    back = buyer([CUT - timedelta(days=60), END])
    assert not outcome(back, CUT, HORIZON).churned
    lapsed = buyer([CUT - timedelta(days=200)])
    assert outcome(lapsed, CUT, HORIZON).eligible  # silence is no proof for an occasional buyer
    gone = buyer([CUT - timedelta(days=400)])
    assert not outcome(gone, CUT, HORIZON).eligible  # but a year of it is
