"""Champion and challengers: what ships is the best contender on the held-out rows."""

from __future__ import annotations

import random

from signals.calibrate import TrainingRow
from signals.challengers import BLEND, CURRENT, MODEL, blend, contest, pooled


def rows(n: int, seed: int, *, noise_features: int = 0) -> list[TrainingRow]:
    """Accounts whose churn follows recency; other features are noise."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        recency = rng.uniform(0, 5)
        churned = rng.random() < 1 / (1 + 2.718 ** (-(2 * recency - 5)))
        vector = {"recency": recency, "events_28": rng.uniform(0, 5), "trend": rng.gauss(0, 1)}
        for k in range(noise_features):
            vector[f"level:noise{k}"] = rng.gauss(0, 1)
        out.append(TrainingRow(vector, {}, churned, False))
    return out


def test_the_champion_is_the_best_held_out_auc_and_every_contender_is_listed() -> None:
    result = contest(rows(400, 1), rows(400, 2), "churned", {"intercept": 0.0, "trend": 1.0})
    names = [e.name for e in result.entries]
    assert {MODEL, CURRENT, "days since last use", "28-day volume", "28-day trend"} <= set(names)
    aucs = [e.auc or 0.0 for e in result.entries]
    assert aucs == sorted(aucs, reverse=True)
    assert result.champion.auc == max(aucs)
    current = result.entry(CURRENT)
    assert current is not None
    assert (current.auc or 0) < 0.6  # the trend carries nothing here
    assert result.champion.auc is not None
    assert result.champion.auc > 0.75


def test_a_model_drowned_in_noise_loses_to_what_ships_instead() -> None:
    """Few training rows and forty noise metrics: the full model overfits, recency does not,
    and what ships (recency alone, or the blend that averages it in) beats the full model."""
    result = contest(rows(60, 3, noise_features=40), rows(600, 4, noise_features=40), "churned", {})
    model, recency = result.entry(MODEL), result.entry("days since last use")
    assert model is not None
    assert recency is not None
    assert (recency.auc or 0) > (model.auc or 0)
    assert result.champion.name in ("days since last use", BLEND)
    assert (result.champion.auc or 0) > (model.auc or 0)


def test_on_a_tie_the_current_settings_stay_rather_than_a_baseline() -> None:
    """Current settings = the true model; recency alone ranks the same, so it ties and loses."""
    perfect = {"intercept": -5.0, "recency": 2.0}
    result = contest(rows(40, 5), rows(400, 6), "churned", perfect)
    current, recency = result.entry(CURRENT), result.entry("days since last use")
    assert current is not None
    assert recency is not None
    assert recency.auc == current.auc
    assert result.champion.kind != "baseline"
    if result.champion.name == MODEL:
        assert (result.champion.auc or 0) > (current.auc or 0)


def test_a_blend_is_the_average_of_its_parts_log_odds() -> None:
    mixed = blend([{"intercept": -1.0, "recency": 2.0}, {"intercept": 1.0, "p_gone": 4.0}])
    assert mixed == {"intercept": 0.0, "recency": 1.0, "p_gone": 2.0}
    result = contest(rows(400, 7), rows(400, 8), "churned", {})
    mixed_entry = result.entry(BLEND)
    assert mixed_entry is not None
    # Only the simple predictors are blended: the full model's many features (here the
    # noise of trend) would drag a sparse book's blend below its parts.
    assert set(mixed_entry.coefficients) <= {"intercept", "recency", "events_28"}


def test_over_several_held_out_periods_the_steady_contender_beats_a_lucky_one() -> None:
    """Rolling origin: a contender that wins one period by luck and loses the others does
    not ship; the ranking is by the mean held-out AUC, and the counts add up."""
    train = rows(400, 11)
    periods = [contest(train, rows(300, 20 + k), "churned", {}) for k in range(3)]
    # In the latest period only, the 28-day volume happens to be what churn follows (in the
    # direction the baseline learned from noise) and recency says nothing.
    learned = periods[0].entry("28-day volume")
    assert learned is not None
    sign = 1.0 if learned.coefficients["events_28"] > 0 else -1.0
    rng = random.Random(30)
    lucky = [
        TrainingRow(
            {
                **r.vector,
                "recency": rng.uniform(0, 5),
                "events_28": sign * (5.0 * r.churned + rng.uniform(0, 1)),
            },
            {},
            r.churned,
            False,
        )
        for r in rows(300, 30)
    ]
    latest = contest(train, lucky, "churned", {})
    assert latest.champion.name == "28-day volume"
    result = pooled([latest, *periods])
    assert result.origins == 4
    assert result.held_out == 1200
    assert result.positives == latest.positives + sum(p.positives for p in periods)
    mean = {e.name: e.auc for e in result.entries}
    assert mean["days since last use"] > mean["28-day volume"]  # type: ignore[operator]
    assert result.champion.name != "28-day volume"
    assert result.champion.coefficients == latest.entry(result.champion.name).coefficients  # type: ignore[union-attr]
