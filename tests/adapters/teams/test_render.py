"""The Teams renderer: every card Steward sends is a valid Adaptive Card 1.5 (checked against
the published schema, vendored in tests/support/data), within Teams' message size, with customer
text shown literally and buttons that route back to the same handler."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from markdown_it import MarkdownIt
from sqlalchemy.engine import Engine

from bot.adapters.teams.render import (
    CARD_LIMIT,
    VISIBLE_BUTTONS,
    action_of,
    escape,
    fallback_text,
    message_invoke_response,
    to_attachment,
    to_card,
    to_invoke_response,
)
from core.messages import Button, Card, Chart, Fact, Section, Series
from digests.alerts import Change, Evaluation, Notice, alert_card
from digests.compose import compose_digest
from handlers.chat.actions import ActionRequest, handle_action
from handlers.chat.commands import handle
from handlers.chat.context import CommandRequest, Context, Person
from services.container import utc_now
from signals.config import ScoringConfig
from signals.model import Snapshot
from tests.support.adaptive import VALIDATOR
from tests.support.cards import sample_chart, sample_health_card
from tests.support.slack_world import Book, seed_book

CHART_URL = "https://steward.example.com/charts/3f2a.png"
TEAMS_MESSAGE_LIMIT = 28 * 1024
CASEY = Person("29:1casey", email="casey@example.com", name="Casey")
INJECTION = "[click](https://evil) <at>x</at> **x**"
DAY = date(2025, 12, 17)


def _assert_valid(card: dict[str, Any]) -> None:
    """The card is a valid Adaptive Card 1.5 for Teams, within the size limit."""
    errors = [f"{list(e.absolute_path)}: {e.message[:300]}" for e in VALIDATOR.iter_errors(card)]
    assert not errors, errors
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["msteams"] == {"width": "Full"}
    assert card["fallbackText"].strip()
    assert _size(card) <= CARD_LIMIT
    for element in _walk(card["body"]):
        if element.get("type") == "ActionSet":  # titles readable down to 360 px
            assert 0 < len(element["actions"]) <= VISIBLE_BUTTONS
        if element.get("type") == "Image":
            assert element["url"].startswith("https://")
            assert element["altText"].strip()


def _size(card: dict[str, Any]) -> int:
    """UTF-8 bytes of the compact JSON, measured independently of the renderer."""
    return len(json.dumps(card, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _walk(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every element of a body, containers' items included, in reading order."""
    out: list[dict[str, Any]] = []
    for element in elements:
        out.append(element)
        out.extend(_walk(element.get("items", [])))
    return out


_MD = MarkdownIt("commonmark")
_TAG = re.compile(r"<[^>]+>")


def _shown(markdown: str) -> str:
    """What a CommonMark renderer shows for a TextBlock's text, tags stripped."""
    rendered = _MD.renderInline(markdown)
    return html.unescape(_TAG.sub("", rendered))


def _markup(markdown: str) -> list[str]:
    """The HTML tags a CommonMark renderer makes of a text (none, for literal text)."""
    return _TAG.findall(_MD.renderInline(markdown))


def _lines(card: dict[str, Any]) -> list[str]:
    """Every text a reader sees, as shown: text blocks, facts as "label: value"."""
    out = []
    for element in _walk(card["body"]):
        if element["type"] == "TextBlock":
            out.append(_shown(element["text"]))
        if element["type"] == "FactSet":
            out.extend(f"{_shown(f['title'])}: {_shown(f['value'])}" for f in element["facts"])
    return out


def _headings(card: dict[str, Any]) -> list[str]:
    return [
        _shown(e["items"][0]["text"])
        for e in card["body"]
        if e["type"] == "Container" and e["items"][0].get("weight") == "bolder"
    ]


def _visible(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons in view, "More" included."""
    return [a for e in card["body"] if e["type"] == "ActionSet" for a in e["actions"]]


def _actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button a person can press, those behind "More" included, in order."""
    out: list[dict[str, Any]] = []
    for action in _visible(card):
        if action["type"] == "Action.ShowCard":
            hidden = action["card"]["body"]
            out.extend(a for e in hidden if e["type"] == "ActionSet" for a in e["actions"])
        else:
            out.append(action)
    return out


# Cards the handlers produce, from a scored book of accounts.


@pytest.fixture(scope="module")
def book(engine: Engine) -> Book:
    return seed_book(engine)


def _ctx(engine: Engine) -> Context:
    return Context(engine=engine, config=ScoringConfig.from_mapping({}), now=utc_now())


def _ask(engine: Engine, command: str, text: str) -> Card:
    return handle(CommandRequest(command, text, CASEY, platform="teams"), _ctx(engine))


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("health", "zorblax corp"),
        ("health", "zorblax labs"),
        ("value", "quibble 90d"),
        ("value", "zorblax corp quarter"),
        ("forecast", "zorblax labs"),
        ("forecast", "quibble"),
        ("steward", "tier zorblax corp"),
        ("steward", "book"),
        ("steward", "risks"),
        ("steward", "expansions"),
        ("steward", "digest"),
        ("steward", "help"),
        ("steward", "subscriptions"),
        ("health", "zorblax"),  # ambiguous: a list to pick from
        ("health", "no such company"),
    ],
)
def test_every_command_card_is_a_valid_adaptive_card(
    engine: Engine, book: Book, command: str, text: str
) -> None:
    card = _ask(engine, command, text)
    for chart_url in (None, lambda _chart: CHART_URL):
        rendered = to_card(card, chart_url=chart_url)
        _assert_valid(rendered)
        shown = _lines(rendered)
        assert shown[0] == card.title
        for section in card.sections:
            for line in section.text.split("\n"):
                assert not line.strip() or line in shown
            for fact in section.facts:
                assert f"{fact.label}: {fact.value.strip() or '—'}" in shown
            for item in section.items:
                assert f"• {item}" in shown
        if card.chart is not None:
            images = [e for e in _walk(rendered["body"]) if e["type"] == "Image"]
            if chart_url is None:
                assert not images
                assert any(
                    line.startswith(f"Chart not shown: {card.chart.title}") for line in shown
                )
            else:
                assert [i["url"] for i in images] == [CHART_URL]
        labels = [a["title"] for a in _actions(rendered)]
        assert labels == [b.label for b in card.buttons]


def test_a_click_on_health_details_comes_back_to_the_same_handler(
    engine: Engine, book: Book
) -> None:
    health = to_card(_ask(engine, "health", "zorblax corp"))
    (details,) = [a for a in _actions(health) if a["title"] == "Details"]
    assert details["type"] == "Action.Execute"
    assert details["verb"] == "details"
    invoke_value = {
        "action": {"type": "Action.Execute", "verb": "details", "data": details["data"]}
    }
    clicked = action_of(invoke_value["action"]["data"])
    assert clicked is not None
    action, value = clicked
    assert action == "details"
    assert json.loads(value)["a"] == book.ids["acme"]
    result = handle_action(ActionRequest(action, value, CASEY, "teams"), _ctx(engine))
    response = to_invoke_response(result.card, chart_url=lambda _chart: CHART_URL)
    assert response["statusCode"] == 200
    assert response["type"] == "application/vnd.microsoft.card.adaptive"
    _assert_valid(response["value"])
    assert _lines(response["value"])[0] == result.card.title
    assert "Zorblax Corp" in result.card.title


def _alert_notice(name: str) -> Notice:
    account = Evaluation(
        account_id="acct-42",
        name=name,
        csm="casey@example.com",
        ae=None,
        segment="enterprise",
        tier="Gold",
        flags={},
    )
    changes = (
        Change(
            "usage_drop", "usage_drop", "high", "Usage dropped", "API calls fell 46% in 14 days"
        ),
        Change("bill_shock", "bill_shock", "medium", "Bill-shock risk", "Spend on pace for 2.3x"),
        Change("inactive", "inactive", "high", "No meaningful usage", "Quiet", resolved=True),
    )
    return Notice(account, changes)


def test_an_alert_card_is_valid_and_its_buttons_round_trip() -> None:
    card = alert_card(_alert_notice("Zorblax Corp"))
    rendered = to_card(card)
    _assert_valid(rendered)
    assert rendered["body"][0]["color"] == "attention"  # a high-severity alert
    actions = _actions(rendered)
    assert [a["title"] for a in actions] == [b.label for b in card.buttons]
    for action, button in zip(actions, card.buttons, strict=True):
        assert action["type"] == "Action.Execute"
        assert action["verb"] == button.action
        assert action_of(action["data"]) == (button.action, button.value)
    acknowledge = actions[0]
    assert acknowledge["style"] == "positive"
    assert "style" not in actions[1]
    shown = [a["title"] for a in _visible(rendered)]
    assert shown == ["Acknowledge", "Details", "More"]  # the rest one tap away
    assert _lines(rendered)[-1] == "CSM casey@example.com · Tier Gold"


def _snapshot(i: int, reason: str) -> Snapshot:
    """An account on the digest's every list: at risk, expanding, off pace, bill shock, a win."""
    return Snapshot(
        account_id=f"acct-{i:04d}",
        day=DAY,
        score=20.0 + i % 30,
        band="at risk",
        churn_risk=0.7,
        expansion_likelihood=0.8,
        tier="Gold",
        tier_since=DAY - timedelta(days=90),
        exhaustion_date=DAY + timedelta(days=40 + i),
        projected_month_spend=10_000.0 + i,
        flags=("usage_drop", "commit_early", "bill_shock", "new_use_case"),
        reasons=(reason,),
        detail={
            "flags": {
                "commit_early": f"{reason} (commit)",
                "bill_shock": f"{reason} (spend)",
            },
            "expansion_drivers": ["seats up 40%", "new workload"],
            "alerts": [
                {"kind": "tier_change", "title": "Tier changed"},
                {"kind": "inactive", "title": "No meaningful usage", "resolved": True},
            ],
        },
    )


def test_a_huge_digest_keeps_its_first_sections_and_says_how_many_it_left_out() -> None:
    # Account names as long as ingestion accepts (255 characters, 3 UTF-8 bytes each), on
    # every list of the digest.
    reason = (
        "Usage of the reporting API fell 46% over 14 days while seats stayed flat, "
        "and the last admin login was 19 days ago; renewal is in 58 days."
    )
    snapshots = [_snapshot(i, reason) for i in range(400)]
    names = {
        s.account_id: ("株式会社ゾルブラックス・ホールディングス 関西営業本部 大阪第二支店 " * 9)[
            :250
        ]
        + f" {i:04d}"
        for i, s in enumerate(snapshots)
    }
    notes = {s.account_id: "acknowledged by Casey" for s in snapshots[:50]}
    card = compose_digest(DAY, snapshots, names, title="Daily digest", notes=notes)
    everything = to_card(card, limit=10**9)
    assert _size(everything) > CARD_LIMIT  # too big for Teams as it is

    rendered = to_card(card)
    _assert_valid(rendered)
    assert _size(to_attachment(card)) < TEAMS_MESSAGE_LIMIT
    titles = [s.title for s in card.sections if s.title]
    shown = _headings(rendered)
    assert 0 < len(shown) < len(titles)
    assert shown == titles[: len(shown)]  # whole sections, first ones first
    hidden = len(titles) - len(shown)
    lines = _lines(rendered)
    note = f"{hidden} more section{'' if hidden == 1 else 's'} not shown: ask for details"
    assert note in lines
    assert lines[-1] == card.footer  # the footer stays after the note
    assert "Accounts: 400" in lines
    assert f"• {card.sections[1].items[0]}" in lines


def test_a_huge_card_of_many_sections_says_what_was_left_out_like_slack() -> None:
    sections = tuple(Section(title=f"Part {i}", text=f"Paragraph {i}. " * 20) for i in range(200))
    card = Card(title="Everything", summary="A very long card.", sections=sections, footer="End")
    rendered = to_card(card)
    _assert_valid(rendered)
    shown = _headings(rendered)
    assert shown == [f"Part {i}" for i in range(len(shown))]
    lines = _lines(rendered)
    assert lines[-2] == f"{200 - len(shown)} more sections not shown: ask for details"
    assert lines[-1] == "End"
    assert _size(rendered) > CARD_LIMIT - 1000  # it used the room it had


def test_one_enormous_section_is_shown_in_part_then_long_texts_are_shortened() -> None:
    lines = "\n".join(f"{i:03d} " + "w" * 2900 for i in range(200))
    card = Card(
        title="Log",
        summary="s",
        sections=(Section(title="Lines", text=lines), Section(text="after")),
    )
    rendered = to_card(card)
    _assert_valid(rendered)
    shown = _lines(rendered)
    assert shown[:3] == ["Log", "Lines", "000 " + "w" * 2900]  # whole lines, not cut
    assert shown[-1] == "The rest of this section and 1 more section not shown: ask for details"

    single = Card(title="T" * 50_000, summary="s", sections=(Section(text="x" * 50_000),))
    cut = to_card(single)
    _assert_valid(cut)
    title, text = _lines(cut)
    assert title.endswith("…")
    assert text.endswith("…")
    assert 5_000 < len(title) < 50_000
    assert 5_000 < len(text) < 50_000


def test_buttons_that_cannot_fit_are_a_handler_mistake() -> None:
    buttons = tuple(Button(f"Go {i}", "go", value="v" * 1500) for i in range(20))
    with pytest.raises(ValueError, match="20 buttons leave no room"):
        to_card(Card(title="t", summary="s", buttons=buttons))


def test_unicode_is_counted_in_utf8_bytes() -> None:
    name = "株式会社ゾルブラックス🚀"  # 3 and 4 bytes a character
    sections = tuple(
        Section(
            title=f"{name} {i}", items=tuple(f"{name}: 利用量が減少しました" * 4 for _ in range(3))
        )
        for i in range(40)
    )
    card = Card(title=name, summary=f"{name} digest", sections=sections)
    everything = to_card(card, limit=10**9)
    chars = len(json.dumps(everything, separators=(",", ":"), ensure_ascii=False))
    assert chars < CARD_LIMIT < _size(everything)  # fits by characters, not by bytes

    rendered = to_card(card)
    _assert_valid(rendered)
    shown = _headings(rendered)
    assert 0 < len(shown) < 40
    assert f"{40 - len(shown)} more sections not shown: ask for details" in _lines(rendered)


def test_customer_text_cannot_inject_links_mentions_or_emphasis() -> None:
    card = alert_card(_alert_notice(INJECTION))
    card = Card(
        title=card.title,
        summary=card.summary,
        sections=(
            *card.sections,
            Section(
                title=INJECTION,
                text=f"{INJECTION}\n- {INJECTION}\n1. {INJECTION}",
                facts=(Fact(INJECTION, INJECTION),),
                items=(INJECTION,),
            ),
        ),
        buttons=card.buttons,
        footer=INJECTION,
        chart=sample_chart(title=INJECTION, alt_text=INJECTION),
    )
    rendered = to_card(card, context=INJECTION)
    _assert_valid(rendered)
    texts = [e["text"] for e in _walk(rendered["body"]) if e["type"] == "TextBlock"]
    texts += [v for e in _walk(rendered["body"]) for f in e.get("facts", ()) for v in f.values()]
    for text in texts:
        assert _markup(text) == []  # no link, emphasis, code or raw HTML
        assert "<at>" not in text
        assert "](" not in text  # no link, even for a renderer that ignores escaped brackets
    shown = _lines(rendered)
    assert shown[0] == card.title
    assert card.title.startswith(f"{INJECTION}: ")
    assert INJECTION in shown
    assert f"- {INJECTION}" in shown
    assert f"1. {INJECTION}" in shown
    assert f"{INJECTION}: {INJECTION}" in shown
    assert f"• {INJECTION}" in shown
    assert f"Chart not shown: {INJECTION}" in shown
    assert shown[-2:] == [INJECTION, INJECTION]  # footer and context
    assert fallback_text(card) == card.summary  # plain text: Teams shows notifications as is


def test_escape_keeps_plain_text_plain() -> None:
    assert escape("Zorblax Corp (72): usage -12% → 4.5k calls, 3 seats") == (
        "Zorblax Corp (72): usage -12% → 4.5k calls, 3 seats"
    )
    assert _shown(escape(r"a\b *c* _d_ `e` ~f~ {{DATE(2025-01-01T00:00:00Z)}}")) == (
        r"a\b *c* _d_ `e` ~f~ {{DATE(2025-01-01T00:00:00Z)}}"
    )


def test_buttons_beyond_three_wait_behind_more_and_links_open_urls() -> None:
    buttons = (
        *(
            Button(f"Snooze {d} days", "snooze", value=f'{{"a":"acme","p":"{d}"}}')
            for d in range(1, 9)
        ),
        Button("Open in CRM", "crm", url="https://crm.example.com/acme"),
        Button("Escalate", "escalate", value="acme", style="danger"),
    )
    rendered = to_card(Card(title="t", summary="s", buttons=buttons))
    _assert_valid(rendered)
    sets = [e for e in rendered["body"] if e["type"] == "ActionSet"]
    assert [[a["title"] for a in s["actions"]] for s in sets] == [
        ["Snooze 1 days", "Snooze 2 days", "More"]
    ]
    (more,) = [a for a in sets[0]["actions"] if a["type"] == "Action.ShowCard"]
    assert all(len(e["actions"]) == 1 for e in more["card"]["body"])  # one per row
    actions = _actions(rendered)
    assert len(actions) == len(buttons)
    for action, button in zip(actions, buttons, strict=True):
        assert action["title"] == button.label
        if button.url is not None:
            assert action == {"type": "Action.OpenUrl", "title": "Open in CRM", "url": button.url}
        else:
            assert action["type"] == "Action.Execute"
            assert action["verb"] == button.action
            assert action_of(action["data"]) == (button.action, button.value)
    assert actions[-1]["style"] == "destructive"
    # Teams merges input values into the data it sends back; the button still routes.
    assert action_of({**actions[0]["data"], "comment": "hi"}) == ("snooze", buttons[0].value)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"action": "snooze", "value": "x"},  # not marked as Steward's
        {"source": "other-app", "action": "snooze", "value": "x"},
        {"source": "steward", "action": "", "value": "x"},
        {"source": "steward", "action": 3, "value": "x"},
        {"source": "steward", "action": "snooze", "value": {"a": 1}},
        "snooze",  # Action.Submit data may be a plain string
        None,
    ],
)
def test_data_that_is_not_a_steward_button_is_not_routed(data: object) -> None:
    assert action_of(data) is None


def test_chart_is_an_image_by_url_or_named_when_it_cannot_be_shown() -> None:
    card = sample_health_card()
    asked: list[Chart] = []

    def url_for(chart: Chart) -> str:
        asked.append(chart)
        return CHART_URL

    with_image = to_card(card, chart_url=url_for)
    _assert_valid(with_image)
    assert asked == [card.chart]
    (image,) = [e for e in with_image["body"] if e["type"] == "Image"]
    assert image["url"] == CHART_URL
    assert image["altText"] == "API calls rose from 100 to 129 a day over March"
    assert "Daily API calls" in _lines(with_image)

    for chart_url in (None, lambda _chart: None):
        without = to_card(card, chart_url=chart_url)
        _assert_valid(without)
        assert not [e for e in _walk(without["body"]) if e["type"] == "Image"]
        assert (
            "Chart not shown: Daily API calls (API calls rose from 100 to 129 a day over March)"
            in _lines(without)
        )


def test_typical_card_reads_like_the_slack_message() -> None:
    rendered = to_card(
        sample_health_card(), chart_url=lambda _chart: CHART_URL, context="Shared by Casey"
    )
    _assert_valid(rendered)
    title = rendered["body"][0]
    assert title["weight"] == "bolder"
    assert title["size"] == "large"  # above the headings and labels
    assert title["wrap"] is True
    assert rendered["fallbackText"] == "Acme Corp is healthy at 72, up 4 points this week."
    assert _lines(rendered) == [
        "Acme Corp: health 72 (healthy)",
        "Health",
        "Usage is growing and tickets are quiet.",
        "Health: 72 (healthy)",
        "Trend: +4 this week",
        "ARR: $120,000",
        "Signals",
        "• Usage up 12% month on month",
        "• No open P1 tickets",
        "Daily API calls",
        "Figures as of 2024-03-30 06:00 UTC",
        "Shared by Casey",
    ]
    footer = rendered["body"][-2]
    assert footer["size"] == "small"
    assert footer["isSubtle"] is True


def test_attachment_and_invoke_responses_have_the_shapes_teams_expects() -> None:
    card = Card(
        title="Acme",
        summary="Acme is fine.",
        chart=sample_chart(series=(Series("x", (1.0,) * 30),)),
    )
    attachment = to_attachment(card)
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    _assert_valid(attachment["content"])
    assert attachment["content"] == to_card(card)
    response = to_invoke_response(card)
    assert response == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.card.adaptive",
        "value": to_card(card),
    }
    assert message_invoke_response("Snoozed for 7 days.") == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Snoozed for 7 days.",
    }


def test_fallback_text_is_plain_and_never_empty() -> None:
    assert fallback_text(Card(title="Acme", summary=" ")) == "Acme"
    assert fallback_text(Card(title="", summary="")) == "Steward"
    assert fallback_text(Card(title="t", summary="Acme **(72)**")) == "Acme **(72)**"
    assert len(fallback_text(Card(title="t", summary="s" * 5000))) <= 1000


def test_a_digest_line_opens_its_account_when_clicked() -> None:
    snapshots = [_snapshot(i, f"reason {i}") for i in range(3)]
    card = compose_digest(DAY, snapshots, {}, title="Digest", platform="teams")
    rendered = to_card(card)
    _assert_valid(rendered)
    clickable = [e for e in _walk(rendered["body"]) if "selectAction" in e]
    assert clickable, "account lines are clickable"
    for element in clickable:
        action = element["selectAction"]
        assert action["type"] == "Action.Execute"
        assert action_of(action["data"]) is not None
        verb, value = action_of(action["data"]) or ("", "")
        assert verb == "details"
        [line] = [e["text"] for e in element["items"]]
        assert json.loads(value)["a"] in line  # the line names the account it opens
    assert "/health" not in json.dumps(rendered)


def test_how_figures_were_computed_waits_behind_a_button_of_its_own() -> None:
    method = Section(title="How these were computed", items=("NRR: revenue now over then.",))
    card = Card(
        title="Manager digest",
        summary="Manager digest",
        sections=(
            Section(title="Renewals at risk (1)", items=("Apex",)),
            replace(method, folded=True),
        ),
    )
    rendered = to_card(card)
    _assert_valid(rendered)
    assert "How these were computed" not in _headings(rendered)
    [show] = [a for a in _visible(rendered) if a["type"] == "Action.ShowCard"]
    assert show["title"] == "How these were computed"
    assert "NRR: revenue now over then." in json.dumps(show["card"])
    assert "Renewals at risk (1)" in _headings(rendered)
