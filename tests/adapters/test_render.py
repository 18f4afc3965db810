"""Renderers: Slack Block Kit within Slack's limits (checked by slack_sdk's own models),
the console text, and chart PNGs."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.adapters.charts import render_png
from bot.adapters.console.render import to_text
from bot.adapters.slack.render import SlackImage, action_of, chosen, to_blocks, to_message
from core.messages import Button, Card, Chart, Fact, Reference, Section, Series
from tests.support.cards import DAYS, sample_chart, sample_health_card


def _assert_valid(message: dict[str, Any]) -> None:
    """Every block parses with slack_sdk and round-trips; the message is within limits."""
    assert message["text"].strip()
    assert 0 < len(message["blocks"]) <= 50
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        assert parsed.to_dict() == block


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    """All text a reader sees in the blocks."""
    out: list[str] = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(field["text"] for field in block.get("fields", ()))
        out.extend(e["text"]["text"] if "action_id" in e else e["text"] for e in _elements(block))
    return out


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    return list(block.get("elements", ()))


def test_typical_card_renders_every_part() -> None:
    message = to_message(sample_health_card(), image=SlackImage(file_id="F0123"))
    _assert_valid(message)
    blocks = message["blocks"]
    assert message["text"] == "Acme Corp is healthy at 72, up 4 points this week."
    assert [b["type"] for b in blocks] == [
        "header",
        "section",
        "section",
        "image",
        "actions",
        "context",
    ]
    assert blocks[0]["text"]["text"] == "Acme Corp: health 72 (healthy)"
    health = blocks[1]
    assert health["text"]["text"] == "*Health*\nUsage is growing and tickets are quiet."
    assert health["fields"][0]["text"] == "*Health*\n72 (healthy)"
    assert blocks[2]["text"]["text"] == (
        "*Signals*\n• Usage up 12% month on month\n• No open P1 tickets"
    )
    assert blocks[3]["slack_file"] == {"id": "F0123"}
    assert blocks[3]["alt_text"] == sample_chart().alt_text
    assert blocks[3]["title"]["text"] == "Daily API calls"
    snooze, crm, escalate = blocks[4]["elements"]
    assert snooze == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Snooze a week"},
        "action_id": "steward:snooze",
        "value": "acme:7",
    }
    assert crm["url"] == "https://crm.example.com/acme"
    assert escalate["style"] == "danger"
    assert blocks[5]["elements"][0]["text"] == "Figures as of 2024-03-30 06:00 UTC"


def test_chart_needs_an_image_and_context_joins_the_footer() -> None:
    card = sample_health_card()
    without = to_blocks(card, context="Shared by @casey")
    assert "image" not in [b["type"] for b in without]
    assert [e["text"] for e in without[-1]["elements"]] == [
        "Figures as of 2024-03-30 06:00 UTC",
        "Shared by @casey",
    ]
    by_url = to_blocks(card, image=SlackImage(url="https://img.example.com/c.png"))
    (image,) = [b for b in by_url if b["type"] == "image"]
    assert image["image_url"] == "https://img.example.com/c.png"
    with pytest.raises(ValueError, match="exactly one"):
        SlackImage()


def test_huge_card_stays_within_limits_and_says_what_was_left_out() -> None:
    sections = [Section(title=f"Part {i}", text=f"Paragraph {i}.") for i in range(80)]
    sections[0] = Section(
        title="Everything",
        text="\n".join(f"Line {i}: " + "x" * 90 for i in range(100)),
        facts=tuple(Fact(f"Metric {i}", "v" * 2500) for i in range(25)),
        items=("one", "two"),
    )
    sections[1] = Section(text="y" * 10_000)
    card = Card(title="T" * 400, summary="A very long card.", sections=tuple(sections))
    message = to_message(card)
    _assert_valid(message)
    blocks = message["blocks"]
    assert len(blocks) == 50
    assert blocks[0]["text"]["text"] == "T" * 149 + "…"
    for block in blocks:
        assert len(block.get("fields", ())) <= 10
        assert all(len(f["text"]) <= 2000 for f in block.get("fields", ()))
    assert blocks[-1]["text"]["text"] == "_38 more sections not shown: ask for details_"
    shown = "\n".join(_texts(blocks))
    assert "Line 99: " in shown
    assert "*Metric 24*" in shown
    assert "y" * 2999 + "…" in shown
    assert "Part 41" in shown
    assert "Part 42" not in shown


def test_long_section_is_split_at_line_boundaries() -> None:
    lines = [f"{i:03d} " + "z" * 96 for i in range(75)]
    blocks = to_blocks(Card(title="Log", summary="s", sections=(Section(text="\n".join(lines)),)))
    _assert_valid({"text": "s", "blocks": blocks})
    texts = [b["text"]["text"] for b in blocks[1:]]
    assert len(texts) == 3
    assert all(len(t) <= 3000 for t in texts)
    assert "\n".join(texts).split("\n") == lines


def test_a_single_enormous_section_is_shown_in_part() -> None:
    text = "\n".join("w" * 2900 for _ in range(200))
    card = Card(title="Big", summary="s", sections=(Section(text=text), Section(text="after")))
    blocks = to_blocks(card)
    _assert_valid({"text": "s", "blocks": blocks})
    assert blocks[-1]["text"]["text"] == (
        "_The rest of this section and 1 more section not shown: ask for details_"
    )


def test_customer_text_cannot_inject_mentions_or_markup() -> None:
    name = "<@U123> & <!channel>"
    card = Card(
        title=f"{name}: health 12",
        summary=f"{name} is at risk.",
        sections=(Section(title=name, text=name, facts=(Fact(name, name),), items=(name,)),),
        footer=name,
    )
    message = to_message(card, context=name)
    _assert_valid(message)
    escaped = "&lt;@U123&gt; &amp; &lt;!channel&gt;"
    assert message["text"] == f"{escaped} is at risk."
    section = message["blocks"][1]
    assert section["text"]["text"] == f"*{escaped}*\n{escaped}"
    assert section["fields"][0]["text"] == f"*{escaped}*\n{escaped}"
    assert message["blocks"][2]["text"]["text"] == f"• {escaped}"
    assert [e["text"] for e in message["blocks"][-1]["elements"]] == [escaped, escaped]
    for block in message["blocks"][1:]:
        for text in _texts([block]):
            assert "<" not in text
            assert ">" not in text
    for mrkdwn in [section["text"], *section["fields"], *message["blocks"][-1]["elements"]]:
        assert mrkdwn["verbatim"] is True
    assert message["blocks"][0]["text"]["type"] == "plain_text"


def test_cut_text_never_ends_in_half_an_entity() -> None:
    card = Card(title="t", summary="s", sections=(Section(text="a" * 2996 + "&&&&"),))
    (text,) = _texts(to_blocks(card)[1:])
    assert text == "a" * 2996 + "…"


def test_duplicate_actions_get_unique_action_ids() -> None:
    buttons = (
        Button("Snooze a day", action="snooze", value="1"),
        Button("Escalate", action="escalate"),
        Button("Snooze a month", action="snooze", value="30"),
    )
    blocks = to_blocks(Card(title="t", summary="s", buttons=buttons))
    ids = [e["action_id"] for e in blocks[-1]["elements"]]
    assert ids == ["steward:snooze:1", "steward:escalate", "steward:snooze:2"]
    assert [action_of(i) for i in ids] == ["snooze", "escalate", "snooze"]
    assert action_of("someone-else") is None


def test_past_three_buttons_the_rest_wait_in_a_more_menu_that_routes_like_buttons() -> None:
    buttons = (
        Button("Acknowledge", action="ack", value="a1", style="primary"),
        Button("Details", action="details", value="a1"),
        Button("Assign to me", action="assign", value="a1"),
        Button("Snooze 7 days", action="snooze", value='{"a":"a1","p":"7"}'),
        Button("Open in CRM", action="crm", url="https://crm.example.com/a1"),
    )
    message = to_message(Card(title="t", summary="s", buttons=buttons))
    _assert_valid(message)
    (row,) = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["type"] for e in row["elements"]] == ["button", "button", "overflow"]
    menu = row["elements"][2]
    assert [o["text"]["text"] for o in menu["options"]] == [
        "Assign to me",
        "Snooze 7 days",
        "Open in CRM",
    ]
    assert menu["options"][2]["url"] == "https://crm.example.com/a1"
    picked = {"type": "overflow", "action_id": menu["action_id"]}
    snooze = {**picked, "selected_option": menu["options"][1]}
    assert chosen(snooze) == ("steward:snooze", '{"a":"a1","p":"7"}')
    assert action_of(chosen(snooze)[0]) == "snooze"
    button = row["elements"][1]
    assert chosen({**button, "type": "button"}) == ("steward:details", "a1")


def test_a_choice_of_accounts_keeps_every_account_in_view() -> None:
    buttons = tuple(Button(f"Zorblax {i}", action="pick", value=f"z{i}") for i in range(5))
    blocks = to_blocks(Card(title="Which account?", summary="s", buttons=buttons))
    assert [e["type"] for e in blocks[-1]["elements"]] == ["button"] * 5


def test_many_buttons_are_split_over_actions_blocks() -> None:
    buttons = tuple(Button(f"Account {i} " + "x" * 80, action=f"open.{i}") for i in range(30))
    message = to_message(Card(title="t", summary="s", buttons=buttons))
    _assert_valid(message)
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [len(b["elements"]) for b in actions] == [25, 5]
    assert all(len(e["text"]["text"]) <= 75 for b in actions for e in b["elements"])


def test_handler_mistakes_raise() -> None:
    with pytest.raises(ValueError, match="2001-character value"):
        to_blocks(Card(title="t", summary="s", buttons=(Button("Go", "go", value="v" * 2001),)))
    with pytest.raises(ValueError, match="must not end"):
        to_blocks(Card(title="t", summary="s", buttons=(Button("Page", "page:2"),)))
    with pytest.raises(ValueError, match="without a chart"):
        to_blocks(Card(title="t", summary="s"), image=SlackImage(file_id="F1"))


def test_fallback_text_is_never_empty() -> None:
    assert to_message(Card(title="Acme", summary=" "))["text"] == "Acme"
    assert to_message(Card(title="", summary=""))["text"] == "Steward"


def test_console_text_has_every_part() -> None:
    text = to_text(sample_health_card(), chart_path="/tmp/acme-usage.png")
    lines = text.splitlines()
    assert lines[:2] == ["Acme Corp: health 72 (healthy)", "=" * 30]
    for label, value in [
        ("Health", "72 (healthy)"),
        ("Trend", "+4 this week"),
        ("ARR", "$120,000"),
    ]:
        assert f"  {label}:".ljust(10) + value in lines
    assert "  - Usage up 12% month on month" in lines
    assert "  - No open P1 tickets" in lines
    assert "Chart: Daily API calls saved to /tmp/acme-usage.png" in lines
    assert "[Snooze a week]  [Escalate]" in lines
    assert "Open in CRM: https://crm.example.com/acme" in lines
    assert lines[-1] == "Figures as of 2024-03-30 06:00 UTC"


def test_console_wraps_prose_and_describes_an_unsaved_chart() -> None:
    card = Card(
        title="Acme",
        summary="s",
        sections=(Section(title="Notes", text="word " * 60, items=("item " * 30,)),),
        chart=sample_chart(),
    )
    text = to_text(card, width=40)
    assert all(len(line) <= 40 for line in text.splitlines())
    assert "Notes\n-----\nword word" in text
    assert f"Chart: Daily API calls ({sample_chart().alt_text})" in " ".join(text.split())


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_line_chart_with_gaps_and_references() -> None:
    assert _png_size(render_png(sample_chart())) == (800, 320)


def test_stacked_bar_chart_at_a_custom_size() -> None:
    chart = sample_chart(
        kind="bar",
        days=DAYS[:7],
        series=(
            Series("Opened", (3.0, 1.0, None, 4.0, 0.0, 2.0, 5.0)),
            Series("Closed", (1.0, 2.0, 2.0, None, 1.0, 0.0, 3.0)),
        ),
        references=(Reference("SLA", value=4.0),),
    )
    assert _png_size(render_png(chart, width_px=640, height_px=333)) == (640, 333)


def test_empty_chart_says_no_data() -> None:
    empty = Chart(title="Nothing yet", alt_text="No usage recorded", days=(), series=())
    assert _png_size(render_png(empty, width_px=400, height_px=200)) == (400, 200)


def test_a_line_that_opens_an_account_gets_its_own_button_beside_it() -> None:
    open_a = Button("Details", "details", '{"c":"health","a":"a","p":null}')
    open_b = Button("Details", "details", '{"c":"health","a":"b","p":null}')
    card = Card(
        title="Digest",
        summary="Digest",
        sections=(
            Section(
                title="Renewals at risk (3)",
                text="Next, for each: call the sponsor.",
                items=("Apex (20): renews in 8 days.", "Beta (30): in 9 days.", "…and 1 more"),
                links=(open_a, open_b, None),
            ),
        ),
    )
    message = to_message(card)
    _assert_valid(message)
    lines = [b for b in message["blocks"] if "accessory" in b]
    assert [b["text"]["text"] for b in lines] == [
        "• Apex (20): renews in 8 days.",
        "• Beta (30): in 9 days.",
    ]
    assert [action_of(b["accessory"]["action_id"]) for b in lines] == ["details", "details"]
    assert [b["accessory"]["value"] for b in lines] == [open_a.value, open_b.value]
    assert "• …and 1 more" in _texts(message["blocks"])


def test_too_many_clickable_lines_for_one_message_fall_back_to_plain_lines() -> None:
    link = Button("Details", "details", '{"c":"health","a":"a","p":null}')
    sections = tuple(
        Section(title=f"List {i}", items=tuple(f"line {j}" for j in range(6)), links=(link,) * 6)
        for i in range(10)
    )
    message = to_message(Card(title="Digest", summary="Digest", sections=sections))
    _assert_valid(message)
    texts = "\n".join(_texts(message["blocks"]))
    assert all(f"List {i}" in texts for i in range(10))  # every list still shown
    assert not any("accessory" in b for b in message["blocks"])
