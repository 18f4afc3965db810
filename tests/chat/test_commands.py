"""The neutral command handlers: the same Card rendered for Slack and for the terminal,
and account names matched the way people type them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.adapters.charts import render_png
from bot.adapters.console.render import to_text
from bot.adapters.slack.render import to_blocks
from core.messages import Card
from handlers.chat.cards import outcomes_unit
from handlers.chat.commands import handle
from handlers.chat.context import CommandRequest, Context, Person
from handlers.chat.matching import match_account
from services.container import utc_now
from signals.config import ScoringConfig
from tests.support.slack_world import Book, seed_book

CASEY = Person("U123", email="casey@example.com", name="Casey")


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


def ask(engine: Engine, command: str, text: str) -> Card:
    ctx = Context(engine=engine, config=ScoringConfig.from_mapping({}), now=utc_now())
    return handle(CommandRequest(command, text, CASEY), ctx)


@pytest.mark.parametrize(
    ("command", "text"),
    [("health", "zorblax corp"), ("value", "quibble 90d"), ("forecast", "zorblax labs")],
)
def test_one_card_reads_the_same_in_slack_and_in_the_terminal(
    engine: Engine, book: Book, command: str, text: str, tmp_path: Path
) -> None:
    card = ask(engine, command, text)
    blocks = str(to_blocks(card))
    chart_path = None
    if card.chart is not None:
        chart_path = tmp_path / card.chart.filename
        chart_path.write_bytes(render_png(card.chart))
    console = to_text(card, chart_path=str(chart_path) if chart_path else None)
    assert card.title in console
    for section in card.sections:
        for fact in section.facts:
            assert fact.label in console
            assert fact.value in console
            assert fact.label in blocks
        for item in section.items:
            assert (
                item[:40] in console.replace("\n", " ").replace("  ", " ") or item[:20] in console
            )
    if chart_path:
        assert str(chart_path) in console
        assert chart_path.read_bytes().startswith(b"\x89PNG")


def test_health_explains_a_declining_account_and_its_week(engine: Engine, book: Book) -> None:
    card = ask(engine, "health", "zorblax corp")
    sections = {s.title: s for s in card.sections}
    assert sections["Why"].items, "a score comes with its reasons"
    facts = {f.label: f.value for s in card.sections for f in s.facts}
    assert facts["Health"].split("/")[0].isdigit()
    assert "since last week" in facts["Health"]
    assert card.chart is not None
    assert len(card.chart.days) == 90


NAMES = {
    "a1": "Acme Corp",
    "a2": "Acme Labs",
    "g1": "Globex",
    "i1": "Initech",
    "u1": "Umbrella Corp",
    "w1": "Wayne Enterprises",
}


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("acme corp", "a1"),
        ("ACME LABS", "a2"),
        ("glob", "g1"),  # a prefix
        ("enterprises", "w1"),  # a later word's prefix
        ("initec", "i1"),  # a typo
        ("umbrela corp", "u1"),
        ("g1", "g1"),  # an id
    ],
)
def test_names_are_found_as_people_type_them(typed: str, found: str) -> None:
    match = match_account(typed, NAMES)
    assert match.account_id == found, match


def test_an_ambiguous_name_lists_the_candidates() -> None:
    match = match_account("acme", NAMES)
    assert not match.found
    assert [i for i, _ in match.choices] == ["a1", "a2"]
    assert match.total == 2


def test_an_unknown_name_suggests_the_closest_three() -> None:
    match = match_account("zzzqqq", NAMES)
    assert not match.found
    assert match.total == 0
    assert len(match.choices) == 3


def test_a_renamed_account_is_found_by_its_new_name_at_once(engine: Engine, book: Book) -> None:
    from core.settings import IngestLimits
    from handlers.api.payloads import validate
    from services.ingest import store
    from tests.support.slack_world import NOW

    assert ask(engine, "health", "quibble").title.startswith("Quibble Inc: health")
    item = {"id": book.ids["globex"], "name": "Frobozz Co"}
    renamed = validate("accounts", [item], now=NOW, limits=IngestLimits())
    store(engine, "accounts", [m for _, m in renamed.items], now=utc_now())
    assert ask(engine, "health", "frobozz").title.startswith("Frobozz Co: health")
    assert "No account matches" in ask(engine, "health", "quibble inc").title


def test_the_forecast_chart_shows_the_whole_term_an_even_pace_and_the_projection(
    engine: Engine, book: Book
) -> None:
    card = ask(engine, "forecast", "zorblax labs")
    chart = card.chart
    assert chart is not None, "the growing account has a commit to burn down"
    facts = {f.label: f.value for s in card.sections for f in s.facts}
    assert facts["Committed"].startswith("$")
    assert chart.unit == "USD", "the axis reads in the contract's currency"
    series = {s.name: s.values for s in chart.series}
    used, pace = series["Used"], series["Even pace"]
    today = max(i for i, v in enumerate(used) if v is not None)
    assert today < len(chart.days) - 1, "the chart runs to the term end, past today"
    commit = next(r.value for r in chart.references if r.label == "Commit")
    assert pace[-1] == pytest.approx(commit)
    (projection,) = (v for name, v in series.items() if name.startswith("Projected at"))
    assert projection[today] == pytest.approx(used[today])
    assert all(v is None for v in projection[:today])
    assert {r.label for r in chart.references} >= {"Commit", "Today"}


def test_the_health_chart_draws_each_busy_metric_in_its_own_panel(
    engine: Engine, book: Book
) -> None:
    card = ask(engine, "health", "zorblax corp")
    assert card.chart is not None
    names = [s.name for s in card.chart.series if s.style == "solid"]
    assert 1 <= card.chart.panels == len(names) <= 3
    for name in names:
        assert name in card.chart.alt_text


def test_help_on_teams_names_the_commands_as_teams_takes_them(engine: Engine) -> None:
    """Teams has no slash commands for Steward and every answer is seen by the whole
    conversation: its help says so, in its own words; Slack's keeps slash commands."""
    ctx = Context(engine=engine, config=ScoringConfig.from_mapping({}), now=utc_now())
    teams = handle(CommandRequest("steward", "help", CASEY, platform="teams"), ctx)
    slack = handle(CommandRequest("steward", "help", CASEY, platform="slack"), ctx)
    teams_lines = [i for s in teams.sections for i in s.items]
    assert teams_lines
    assert not [line for line in teams_lines if line.startswith("/")]
    assert "health <account>: health score" in teams_lines[0]
    assert "risks: the accounts most likely to churn" in "\n".join(teams_lines)
    assert teams.footer is not None
    assert "Everyone in this conversation sees" in teams.footer
    assert "Share" not in teams.footer
    assert all(i.startswith("/") for s in slack.sections for i in s.items)
    assert slack.footer == "Answers are visible only to you until you press Share."
    unknown = handle(CommandRequest("steward", "frobnicate", CASEY, platform="teams"), ctx)
    assert unknown.summary.startswith("Steward does not know frobnicate.")


def test_no_card_tells_a_user_how_to_configure_the_server(engine: Engine, book: Book) -> None:
    """Setting up an LLM is the operator's business: /value without one just has no
    narrative, and help does not name environment variables."""
    for command, text in (("value", "zorblax corp"), ("steward", "help")):
        card = ask(engine, command, text)
        shown = " ".join(
            [card.summary, card.footer or ""]
            + [s.text for s in card.sections]
            + [i for s in card.sections for i in s.items]
        )
        assert "OPENAI" not in shown
        assert "API_KEY" not in shown


@pytest.mark.parametrize(
    ("per_dollar", "unit", "shown"),
    [(3.2, 1, "3.2"), (0.05, 100, "5.0"), (0.0002, 10_000, "2.0"), (0.000021, 1_000_000, "21.0")],
)
def test_outcomes_per_spend_are_counted_per_a_sum_that_buys_at_least_one(
    per_dollar: float, unit: int, shown: str
) -> None:
    # 68 successes for $325,050 of spend used to read "per $100: 0.0"
    assert outcomes_unit(per_dollar) == unit
    assert f"{per_dollar * unit:,.1f}" == shown
