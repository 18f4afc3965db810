"""BG/NBD against the paper that defines it, on the real CDNOW sample it was published with."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from signals.bgnbd import BgNbd, fit
from tests.support.paths import DATA


def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with (DATA / "cdnow_sample_summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    x = np.array([float(r["frequency"]) for r in rows])
    t_x = np.array([float(r["recency"]) for r in rows])
    t = np.array([float(r["T"]) for r in rows])
    return x, t_x, t


def test_fit_recovers_the_published_parameters_on_cdnow() -> None:
    """Fader, Hardie & Lee (2005), table 1: r 0.243, alpha 4.414, a 0.793, b 2.426 (weeks)."""
    model = fit(*cdnow())
    assert model is not None
    assert model.r == pytest.approx(0.243, abs=0.002)
    assert model.alpha == pytest.approx(4.414, abs=0.03)
    assert model.a == pytest.approx(0.793, abs=0.01)
    assert model.b == pytest.approx(2.426, abs=0.03)


def test_the_time_unit_only_rescales_alpha() -> None:
    """Ages in days instead of weeks: same customers, alpha seven times larger."""
    x, t_x, t = cdnow()
    weeks, days = fit(x, t_x, t), fit(x, 7 * t_x, 7 * t)
    assert weeks is not None
    assert days is not None
    assert days.alpha == pytest.approx(7 * weeks.alpha, rel=0.01)
    assert days.r == pytest.approx(weeks.r, rel=0.01)


def test_expected_purchases_match_the_paper_and_a_simulation() -> None:
    """The paper's parameters and its example customer (2 repeats, the last at week 30.43,
    watched 38.86 weeks): 1.226 purchases expected in the next 39 weeks, as the paper
    works out. A brand-new customer's expectation is checked against two million
    customers drawn from the model itself (Gamma rates, Beta dropout after each purchase).
    """
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert model.expected(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)
    rng = np.random.default_rng(7)
    rate = rng.gamma(model.r, 1 / model.alpha, 2_000_000)
    purchases_before_leaving = rng.geometric(rng.beta(model.a, model.b, rate.size))
    simulated = np.minimum(rng.poisson(rate * 39), purchases_before_leaving).mean()
    assert model.expected(39, 0, 0, 0) == pytest.approx(simulated, rel=0.01)
    recent, lapsed = model.p_alive(2, 37.0, 38.86), model.p_alive(2, 5.0, 38.86)
    assert recent > 0.75 > 0.25 > lapsed
    assert model.p_alive(0, 0, 38.86) == 1.0


def test_too_few_customers_or_no_repeats_give_no_model() -> None:
    assert fit(np.zeros(100), np.zeros(100), np.full(100, 10.0)) is None
    assert fit(np.ones(5), np.ones(5), np.full(5, 10.0)) is None
