"""Health bands that fit the book: a digest names a few accounts at risk, not none, not most."""

from __future__ import annotations

import random

from signals.calibrate import fit_bands
from signals.config import Bands


def scores(n: int, low: float, high: float, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(low, high) for _ in range(n)]


def test_the_default_bands_stay_when_they_fit_the_book() -> None:
    assert fit_bands(scores(500, 25, 100), Bands()) is None  # 20% at risk, 40% healthy


def test_a_book_that_scores_low_across_the_board_gets_bands_from_its_own_quantiles() -> None:
    book = scores(500, 15, 45)  # defaults: 83% at risk, none healthy
    fitted = fit_bands(book, Bands())
    assert fitted is not None
    bands, why = fitted
    at_risk = sum(s < bands.at_risk for s in book) / len(book)
    healthy = sum(s >= bands.healthy for s in book) / len(book)
    assert 0.12 <= at_risk <= 0.18
    assert 0.45 <= healthy <= 0.55
    assert bands.at_risk < bands.healthy
    assert bands.critical_margin == Bands().critical_margin
    assert "% of the book at risk and 0% healthy" in why


def test_a_book_that_scores_high_everywhere_still_names_its_weakest() -> None:
    book = scores(400, 60, 99)  # defaults: nobody at risk
    fitted = fit_bands(book, Bands())
    assert fitted is not None
    assert sum(s < fitted[0].at_risk for s in book) > 0


def test_too_few_or_bunched_scores_change_nothing() -> None:
    """A sparse book where nearly everyone scores 5-12: "healthy from 9" would mislead."""
    assert fit_bands(scores(20, 15, 45), Bands()) is None
    assert fit_bands([30.0] * 200, Bands()) is None
    assert fit_bands(scores(500, 5, 12), Bands()) is None
