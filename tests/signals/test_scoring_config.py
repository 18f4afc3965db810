"""The `[scoring]` table of steward.toml: the README's example, segments and clear errors."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings
from signals.config import ConfigValueError, ScoringConfig
from signals.evaluate import AccountSignals, score_account
from signals.features import extract
from tests.support.paths import README
from tests.support.signal_data import account, steady, ticket, two_level

AS_OF = date(2026, 6, 30)


def readme_scoring() -> dict[str, object]:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    block = next(b for b in blocks if "[scoring." in b)
    return dict(tomllib.loads(block)["scoring"])


def test_the_readme_example_loads_and_means_what_it_says() -> None:
    config = ScoringConfig.from_mapping(readme_scoring())
    assert config.weights["usage_trend"] == 0.3
    assert config.weights["support"] == 0.0  # left out: not counted
    assert config.value_factors["resolutions"].per_unit() == pytest.approx(4.0)
    assert config.weights_for("enterprise")["support"] == 0.3
    assert config.weights_for("smb") == config.weights
    assert ScoringConfig.from_mapping(config.to_mapping()).weights == config.weights


def test_a_segment_weighs_support_its_own_way() -> None:
    config = ScoringConfig.from_mapping(readme_scoring())
    tickets = [ticket(f"t{i}", AS_OF, priority="urgent") for i in range(3)]
    metrics = [steady("tokens", 100, date(2026, 1, 1), AS_OF)]
    smb = extract(account(metrics=metrics, tickets=tickets, segment="smb"), AS_OF, config)
    ent = extract(account(metrics=metrics, tickets=tickets, segment="enterprise"), AS_OF, config)
    smb_score = score_account(smb, config).health.score
    ent_score = score_account(ent, config).health.score
    assert ent_score < smb_score  # the same urgent tickets weigh more for enterprise


def test_value_factors_turn_outcomes_into_hours_and_money() -> None:
    config = ScoringConfig.from_mapping(readme_scoring())
    data = account(metrics=[steady("resolutions", 100, date(2026, 5, 1), AS_OF)])
    value = extract(data, AS_OF, config).value
    assert value.hours_saved == pytest.approx(28 * 100 * 6 / 60)
    assert value.value == pytest.approx(28 * 100 * 4.0)
    assert "280 hours of agent time saved" in value.explain()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"weights": {"usage_trends": 1}}, "scoring.weights: unknown key(s) usage_trends"),
        ({"weights": {"usage_trend": -1}}, "scoring.weights.usage_trend: must not be negative"),
        ({"weights": {"usage_trend": 0}}, "at least one weight must be above zero"),
        ({"bands": {"healthy": 30, "at_risk": 40}}, "need 0 <= at_risk <= healthy <= 100"),
        (
            {"tiers": {"min_dwell_days": "two weeks"}},
            "scoring.tiers.min_dwell_days: must be a number",
        ),
        ({"value_factors": {"resolutions": {"minutes": 6, "rate": 40}}}, "unknown key(s) rate"),
        ({"segments": {"ent": {"colour": "red"}}}, "scoring.segments.ent: unknown key(s) colour"),
        ({"tresholds": {}}, "scoring: unknown key(s) tresholds"),
    ],
)
def test_a_wrong_setting_is_named(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigValueError, match=re.escape(message)):
        ScoringConfig.from_mapping(raw)


def test_steward_refuses_to_start_on_a_bad_scoring_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "steward.toml"
    path.write_text("[scoring.weights]\nusage_trend = -2\n", encoding="utf-8")
    monkeypatch.setenv("STEWARD_CONFIG", str(path))
    with pytest.raises(
        ConfigError, match=re.escape("scoring.weights.usage_trend: must not be negative")
    ):
        load_settings()


def test_a_metric_whose_rise_is_bad_news_lowers_the_trend() -> None:
    rising_complaints = account(metrics=[two_level("complaints", AS_OF, 10, 40)])
    default = ScoringConfig()
    learned = replace(default, metric_weights={"complaints": -1.0})
    good = score_account(extract(rising_complaints, AS_OF, default), default)
    bad = score_account(extract(rising_complaints, AS_OF, learned), learned)
    assert trend_score(good) > 90
    assert trend_score(bad) < 10


def trend_score(s: AccountSignals) -> float:
    component = s.health.component("usage_trend")
    assert component is not None
    assert component.score is not None
    return component.score
