"""Every reason template, rendered for each kind of input, reads as a correct sentence.

Rising, falling, zero and missing inputs go through each template of the one grammar
(signals/words.py) and the sentences built on it (health movers, churn and expansion
drivers, commit and spend states, the week's change); each must read correctly: no
doubled words, no "Resolved: Resolved", no "because <noun>", no certainty from a
model, and nothing that contradicts another line of the same account's card.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest

from signals.commit import commit_forecast, spend_projection
from signals.config import AlertRules, ScoringConfig
from signals.evaluate import score_account, to_snapshot
from signals.features import extract
from signals.health import LABELS, Mover
from signals.risk import FEATURE_LABELS, Driver
from signals.words import (
    days_ago,
    driver_reason,
    in_days,
    last_seen,
    listing,
    percent,
    plural,
    score_change,
)
from tests.support.signal_data import account, contract, d, dimension, series, steady, usage

CONFIG = ScoringConfig()
AS_OF = d("2026-06-30")
DOUBLED = re.compile(r"\b(\w+)[\s:,]+\1\b", re.IGNORECASE)
INPUTS = {"rising": 3.8, "falling": -14.7, "zero": 0.0}


def reads_well(text: str, *, model: bool = True) -> None:
    assert text == text.strip(), text
    assert "  " not in text, text
    assert not DOUBLED.search(text), text
    assert "because" not in text.lower(), text  # "rises because days without ..." is gone
    assert " ." not in text, text
    assert ".." not in text.replace("...", ""), text
    if model:
        assert "100%" not in text, text  # a model never says certain
    assert "rose from" not in text, text
    assert "fell from" not in text, text


@pytest.mark.parametrize("kind", sorted(INPUTS))
@pytest.mark.parametrize("name", sorted(LABELS))
def test_every_health_move_reads_correctly(name: str, kind: str) -> None:
    points = INPUTS[kind]
    words = Mover(name, 40.0, 40.0 + points * 3, points).words()
    reads_well(words)
    assert words.startswith(LABELS[name])
    if kind == "rising":
        assert words.endswith("added 3.8 points")
    elif kind == "falling":
        assert words.endswith("cost 14.7 points")
    else:
        assert words.endswith("left the score as it was")
    week = score_change(-24.0 if kind == "falling" else 6.0, words)
    reads_well(week)
    assert week[0] in "+-"


@pytest.mark.parametrize("name", sorted(LABELS))
def test_a_component_that_starts_or_stops_counting(name: str) -> None:
    starts = Mover(name, None, 50.0, 5.0).words()
    stops = Mover(name, 50.0, None, -5.0).words()
    for text in (starts, stops):
        reads_well(text)
        assert text.startswith(LABELS[name])
    assert starts.endswith("now counts toward the score")
    assert stops.endswith("no longer counts")


@pytest.mark.parametrize("kind", ["rising", "falling"])
@pytest.mark.parametrize("feature", sorted(FEATURE_LABELS))
def test_every_driver_reads_correctly(feature: str, kind: str) -> None:
    value = 1.0 if kind == "rising" else -1.0
    driver = Driver(feature, value, 0.4).words()
    for risk in ("churn risk", "expansion likelihood"):
        text = driver_reason(risk, driver)
        reads_well(text)
        assert text.startswith(f"Raises {risk}: ")


@pytest.mark.parametrize(
    ("p", "shown"),
    [(1.0, ">99%"), (0.9995, ">99%"), (0.99, "99%"), (0.5, "50%"), (0.001, "<1%"), (0.0, "0%")],
)
def test_a_probability_is_never_shown_as_certain(p: float, shown: str) -> None:
    assert percent(p) == shown


@pytest.mark.parametrize(
    ("days", "ago", "ahead"),
    [(0, "today", "today"), (1, "yesterday", "tomorrow"), (8, "8 days ago", "in 8 days")],
)
def test_days_before_and_after(days: int, ago: str, ahead: str) -> None:
    assert days_ago(days) == ago
    assert in_days(days) == ahead


def test_last_seen_never_says_today_about_another_day() -> None:
    day = d("2026-11-27")
    assert last_seen(0, on=day, as_of=day) == "Meaningful usage on 2026-11-27, the day scored"
    assert last_seen(7, on=day - timedelta(days=7), as_of=day) == (
        "Last meaningful usage 7 days ago (2026-11-20)"
    )
    assert last_seen(None, on=day, as_of=day) == "No meaningful usage yet"
    for text in (last_seen(0, on=day, as_of=day), last_seen(1, on=day, as_of=day)):
        assert "today" not in text


def test_counts_and_lists() -> None:
    assert plural(1, "day") == "1 day"
    assert plural(2, "day") == "2 days"
    assert plural(3, "person", "people") == "3 people"
    assert listing([]) == ""
    assert listing(["a"]) == "a"
    assert listing(["a", "b"]) == "a and b"
    assert listing(["a", "b", "c"]) == "a, b and c"


@pytest.mark.parametrize(
    "committed", [0, 8_000, 19_000, 36_500, 100_000], ids=["none", "over", "early", "on", "under"]
)
@pytest.mark.parametrize("as_of", [d("2026-04-10"), d("2027-01-15")], ids=["in-term", "ended"])
@pytest.mark.parametrize("per_day", [0.0, 100.0], ids=["zero", "using"])
def test_every_commit_state_reads_correctly(committed: float, as_of: date, per_day: float) -> None:
    terms = contract(d("2026-01-01"), d("2026-12-31"), committed, {"tokens": 1.0})
    data = [steady("tokens", per_day, d("2026-01-01"), d("2027-03-31"))] if per_day else []
    fc = commit_forecast(data, [terms], as_of, AlertRules())
    assert fc is not None
    text = fc.explain()
    reads_well(text, model=False)  # "100% of the term gone" is a fact
    state_word = {
        "on_pace": "On pace: ",
        "under_use": "Under-use risk: ",
        "runs_out_early": "Runs out early: ",
        "overage": "In overage: ",
        "ended": "Ended: ",
        "": "Contract ",
    }[fc.state]
    assert text.startswith(state_word), text
    if fc.state in ("overage", "runs_out_early"):
        assert "expansion conversation" in text
    assert "used up" not in text


@pytest.mark.parametrize("june", [0.0, 100.0, 150.0, 400.0], ids=["zero", "usual", "up", "shock"])
@pytest.mark.parametrize("budget", [None, 2_000.0, 20_000.0], ids=["none", "low", "high"])
def test_every_spend_sentence_reads_correctly(june: float, budget: float | None) -> None:
    data = usage(lambda day: june if day >= d("2026-06-01") else 100, d("2026-01-01"), AS_OF)
    terms = contract(d("2026-01-01"), d("2026-12-31"), 36_500, {"tokens": 1.0}, budget=budget)
    sp = spend_projection([series("tokens", data)], [terms], d("2026-06-10"), AlertRules())
    assert sp is not None
    text = sp.explain()
    reads_well(text)
    assert ("Bill-shock risk" in text) is sp.bill_shock
    if sp.bill_shock:
        assert re.search(r"Bill-shock risk, (certain|high|medium|low) confidence", text) or (
            "Bill-shock risk, certain" in text
        )


def stopped_account_card() -> list[str]:
    """Every sentence the card of an account whose users and usage fell away shows."""
    first, change = AS_OF - timedelta(days=111), AS_OF - timedelta(days=27)
    tokens = series("tokens", usage(lambda day: 100 if day < change else 0, first, AS_OF))
    dims = [
        dimension("user", f"u{i}", list(_days(first, change - timedelta(days=1)))) for i in range(3)
    ]
    data = account(metrics=[tokens], dimensions=dims)
    f = extract(data, AS_OF, CONFIG)
    now = score_account(f, CONFIG)
    gaining = ("usage_trend", "adoption", "stability")  # lower a week ago: they "gained"
    lower = {
        c.name: (c.score or 0.0) - 40 if c.name in gaining else c.score
        for c in now.health.components
    }
    week_ago = replace(to_snapshot(now), score=now.health.score + 10, components=lower)
    s = score_account(f, CONFIG, week_ago=week_ago)
    return [*s.reasons(5), *(m.words() for m in s.movers), *(c.detail for c in s.health.components)]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_no_line_contradicts_another_of_the_same_card() -> None:
    lines = stopped_account_card()
    for line in lines:
        reads_well(line, model=False)  # a week-to-week variation of 100% is a fact
    text = "\n".join(lines)
    assert not re.search(r"[Cc]hurn risk 100%", text)
    assert "0 active users (was 3)" in text
    # breadth and steadiness "gaining" beside users and usage gone would contradict it
    assert "Breadth of adoption added" not in text
    assert "Steadiness added" not in text
    assert "Usage trend added" not in text
    assert not any(line.startswith("+") for line in lines)
