"""Calibrated weights are written into steward.toml without losing what else is there."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.settings import load_settings
from services.calibration import plan, write_scoring
from signals.config import Bands, ScoringConfig
from signals.model import ScoringError

NOW = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


def test_written_weights_load_back_and_the_rest_of_the_file_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "steward.toml"
    path.write_text(
        "# our settings\n"
        'database_url = "sqlite:///x.db"\n\n'
        "[scoring.value_factors.resolutions]  # agent time\n"
        "minutes = 6\nhourly_rate = 40\n",
        encoding="utf-8",
    )
    fitted = replace(
        ScoringConfig(),
        churn_model={"intercept": -3.0, "trend": -1.5, "metric:unfriend": 0.8},
        metric_weights={"unfriend": -1.0},
        weights={"usage_trend": 0.5, "activity": 0.5},
        bands=Bands(healthy=41.5, at_risk=22.0),
    )
    write_scoring(path, fitted, note="churn AUC 0.71 -> 0.78", now=NOW)

    text = path.read_text(encoding="utf-8")
    assert "# our settings" in text
    assert "# agent time" in text
    assert "calibrated 2026-11-21 08:30 UTC: churn AUC 0.71 -> 0.78" in text
    monkeypatch.setenv("STEWARD_CONFIG", str(path))
    loaded = load_settings().scoring_config()
    assert loaded.churn_model == fitted.churn_model
    assert loaded.metric_weight("unfriend") == -1.0
    assert loaded.weights["usage_trend"] == 0.5
    assert loaded.weights["support"] == 0.0
    assert loaded.value_factors["resolutions"].per_unit() == pytest.approx(4.0)
    assert loaded.bands == fitted.bands  # fitted to the book: the next start uses them


def test_calibration_holds_out_the_last_full_horizon_and_trains_only_before_it() -> None:
    chosen = plan((date(2025, 1, 1), date(2025, 12, 31)), horizon_days=60, step_days=28)
    assert chosen.validation == date(2025, 11, 1)
    assert chosen.training == sorted(chosen.training)
    assert max(chosen.training) == date(2025, 9, 2)  # its labels end on the validation cut-off
    assert all(t >= date(2025, 1, 29) for t in chosen.training)  # 4 weeks of history first


def test_a_four_month_history_calibrates_on_a_horizon_that_fits() -> None:
    """The issue's case: about 120 days of dense usage must calibrate, not refuse."""
    chosen = plan((date(2020, 1, 1), date(2020, 5, 1)), usual_gap=1.0)
    assert chosen.horizon_days == 30
    assert chosen.validation == date(2020, 4, 1)
    assert len(chosen.training) >= 2
    assert chosen.training[0] >= date(2020, 1, 29)
    assert all(t + timedelta(days=30) <= chosen.validation for t in chosen.training)


def test_a_sparse_book_prefers_the_longest_horizon() -> None:
    """Customers who buy every few months: 90 days, when nine months of history allow it."""
    chosen = plan((date(2022, 12, 7), date(2023, 8, 29)), usual_gap=45.0)
    assert chosen.horizon_days == 90
    dense = plan((date(2022, 12, 7), date(2023, 8, 29)), usual_gap=1.0)
    assert dense.horizon_days == 60


def test_too_short_a_history_says_how_much_is_needed() -> None:
    with pytest.raises(ScoringError, match="at least 148 days of usage history for a 60-day"):
        plan((date(2025, 1, 1), date(2025, 4, 1)), horizon_days=60, step_days=28)
    with pytest.raises(ScoringError, match="at least 77 days of usage history for a 21-day"):
        plan((date(2025, 1, 1), date(2025, 3, 1)))


def test_the_contest_is_judged_at_several_held_out_cut_offs_where_history_allows() -> None:
    """Rolling origin: up to three held-out cut-offs, each judged only by models trained on
    outcomes known before it; a short history keeps the one it can afford."""
    chosen = plan((date(2025, 1, 1), date(2025, 12, 31)), horizon_days=60, step_days=28)
    assert chosen.origins == [date(2025, 11, 1), date(2025, 10, 4), date(2025, 9, 6)]
    for origin in chosen.origins:
        training = chosen.training_for(origin)
        assert training
        assert all(t + timedelta(days=60) <= origin for t in training)
    assert chosen.training_for(chosen.validation) == chosen.training
    short = plan((date(2025, 1, 1), date(2025, 4, 1)), horizon_days=30, step_days=14)
    assert short.origins == [short.validation]  # no earlier cut-off has a trained model
