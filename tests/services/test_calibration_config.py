"""Calibrated weights are written into steward.toml without losing what else is there."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.settings import load_settings
from services.calibration import cutoffs, write_scoring
from signals.config import ScoringConfig
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


def test_calibration_holds_out_the_last_full_horizon_and_trains_only_before_it() -> None:
    validation, training = cutoffs((date(2025, 1, 1), date(2025, 12, 31)), 60, 6, 28)
    assert validation == date(2025, 11, 1)
    assert training == sorted(training)
    assert max(training) == date(2025, 9, 2)  # its labels end on the validation cut-off
    assert all(t >= date(2025, 3, 26) for t in training)  # 12 weeks of history first


def test_too_short_a_history_says_how_much_is_needed() -> None:
    with pytest.raises(ScoringError, match="at least 204 days"):
        cutoffs((date(2025, 1, 1), date(2025, 4, 1)), 60, 6, 28)
