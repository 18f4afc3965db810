"""Render a :class:`~core.messages.Card` as a Slack Block Kit message.

Pure functions: no Slack calls. The chart is not drawn here: the adapter uploads
:func:`bot.adapters.charts.render_png` output, then renders again with a :class:`SlackImage`.

Every limit Slack documents for the blocks used is respected: long prose is split
over several section blocks at line boundaries, facts over several field groups,
buttons over several actions blocks, and a card too long for one message keeps its
first sections and says how many it left out. Card text is plain and may come from
customers, so every mrkdwn text is escaped and marked ``verbatim`` (no mentions,
channel links or broadcasts can be injected). Plain-text objects (header, button
labels, image title and alt text) are never parsed for markup, so they are sent as is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.messages import CHOICE, Button, Card, Chart, Fact, Section

Block = dict[str, Any]

MAX_BLOCKS = 50
HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_PER_SECTION = 10
BUTTONS_PER_ACTIONS = 25
VISIBLE_BUTTONS = 3  # buttons in a row; more: two buttons and a "More" overflow menu
OVERFLOW_OPTIONS = (2, 5)  # Slack's overflow menu holds 2 to 5 options
OPTION_VALUE_MAX = 150
OVERFLOW_ACTION = "more"  # the overflow's action; the chosen option carries the real one
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000
ACTION_ID_MAX = 255
IMAGE_TEXT_MAX = 2000
FALLBACK_MAX = 4000
ACTION_PREFIX = "steward:"
ELLIPSIS = "…"

_PARTIAL_ENTITY = re.compile(r"&[a-z]*$")
_NUMBERED = re.compile(r":\d+$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


@dataclass(frozen=True, slots=True)
class SlackImage:
    """The chart's image: an uploaded Slack file (``file_id``) or a public ``url``."""

    file_id: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.file_id is None) == (self.url is None):
            raise ValueError("SlackImage needs exactly one of file_id and url")


def escape(text: str) -> str:
    """Escape text for Slack: ``&``, ``<`` and ``>`` become HTML entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(card: Card) -> str:
    """Return the message's notification text: the summary (else the title), never empty."""
    text = card.summary.strip() or card.title.strip() or "Steward"
    return _cut_escaped(escape(text), FALLBACK_MAX)


def action_of(action_id: str) -> str | None:
    """Return the button action an ``action_id`` stands for, or None if it is not Steward's."""
    if not action_id.startswith(ACTION_PREFIX):
        return None
    return _NUMBERED.sub("", action_id.removeprefix(ACTION_PREFIX))


def to_message(
    card: Card,
    *,
    image: SlackImage | None = None,
    context: str | None = None,
    people: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Render a card as a message payload: fallback ``text`` and ``blocks``."""
    blocks = to_blocks(card, image=image, context=context, people=people)
    return {"text": fallback_text(card), "blocks": blocks}


def to_blocks(
    card: Card,
    *,
    image: SlackImage | None = None,
    context: str | None = None,
    people: Mapping[str, str] | None = None,
) -> list[Block]:
    """Render a card as Block Kit blocks within Slack's limits.

    The chart becomes an image block only when ``image`` is given; ``context`` (e.g.
    "Shared by @casey") joins the footer in a context block; ``people`` (a footer's
    ``mentions`` -> their Slack user ids) become real mentions there. Raises ValueError for
    what a handler got wrong: a button value or URL too long for Slack, an action
    ending in ``:<digits>``, an image for a card without a chart.
    """
    head = _header(card.title)
    footer = _context(card.footer, context)
    if people and footer:
        footer = [_with_mentions(footer[0], card.mentions, people)]
    tail = [*_image(card.chart, image), *_actions(card.buttons), *footer]
    budget = MAX_BLOCKS - len(head) - len(tail)
    if budget < 1:
        raise ValueError(f"{len(card.buttons)} buttons leave no room for the card in one message")
    shown = _shown_sections(card)
    sections = [blocks for blocks in (_section_blocks(s) for s in shown) if blocks]
    if sum(map(len, sections)) > budget:  # a button beside each line costs a block a line
        sections = [b for b in (_section_blocks(s, linked=False) for s in shown) if b]
    return [*head, *_fit(sections, budget), *tail]


def _shown_sections(card: Card) -> tuple[Section, ...]:
    """The sections to show: a card that is only a title and a summary shows the summary."""
    if card.sections or not card.summary.strip():
        return card.sections
    return (Section(text=card.summary),)


def _fit(sections: list[list[Block]], budget: int) -> list[Block]:
    """Keep whole sections while they fit, then one note saying what was left out."""
    if sum(map(len, sections)) <= budget:
        return [block for blocks in sections for block in blocks]
    room = budget - 1
    kept: list[Block] = []
    shown = 0
    for blocks in sections:
        if len(kept) + len(blocks) > room:
            break
        kept.extend(blocks)
        shown += 1
    partial = shown == 0 and room > 0
    if partial:
        kept = sections[0][:room]
    hidden = len(sections) - shown - (1 if partial else 0)
    return [*kept, _text_section(f"_{_omission(hidden, partial=partial)}_")]


def _omission(hidden: int, *, partial: bool) -> str:
    parts = ["The rest of this section"] if partial else []
    if hidden:
        parts.append(f"{hidden} more section{'' if hidden == 1 else 's'}")
    return f"{' and '.join(parts)} not shown: ask for details"


def _header(title: str) -> list[Block]:
    if not title.strip():
        return []
    return [{"type": "header", "text": _plain(title, HEADER_MAX)}]


def _section_blocks(section: Section, *, linked: bool = True) -> list[Block]:
    lead = _lead_lines(section)
    items = [f"• {escape(item)}" for item in section.items]
    if linked and any(section.links):
        return _linked_blocks(section, lead, items)
    if not section.facts:
        return [_text_section(chunk) for chunk in _chunks([*lead, *items])]
    chunks = _chunks(lead)
    groups = [
        [_field(fact) for fact in section.facts[i : i + FIELDS_PER_SECTION]]
        for i in range(0, len(section.facts), FIELDS_PER_SECTION)
    ]
    blocks = [_text_section(chunk) for chunk in chunks[:-1]]
    first: Block = {"type": "section", "fields": groups[0]}
    if chunks:
        first["text"] = _mrkdwn(chunks[-1])
    blocks.append(first)
    blocks.extend({"type": "section", "fields": group} for group in groups[1:])
    blocks.extend(_text_section(chunk) for chunk in _chunks(items))
    return blocks


def _linked_blocks(section: Section, lead: list[str], items: list[str]) -> list[Block]:
    """Prose and facts as usual, then each line that opens something as a section of its
    own with its button beside it (lines that open nothing are grouped as text)."""
    blocks = _section_blocks(Section(title=section.title, text=section.text, facts=section.facts))
    plain: list[str] = []
    for i, line in enumerate(items):
        link = section.link(i)
        if link is None:
            plain.append(line)
            continue
        blocks.extend(_text_section(chunk) for chunk in _chunks(plain))
        plain = []
        [action_id] = _action_ids((link,))
        block = _text_section(_cut_escaped(line, TEXT_MAX))
        block["accessory"] = _button(link, action_id)
        blocks.append(block)
    blocks.extend(_text_section(chunk) for chunk in _chunks(plain))
    return blocks


def _lead_lines(section: Section) -> list[str]:
    lines = [f"*{escape(section.title)}*"] if section.title and section.title.strip() else []
    if section.text.strip():
        lines.extend(escape(line) for line in section.text.split("\n"))
    return lines


def _chunks(lines: list[str]) -> list[str]:
    """Join lines into texts of at most TEXT_MAX characters, splitting between lines."""
    chunks: list[list[str]] = []
    size = TEXT_MAX
    for line in (_cut_escaped(line, TEXT_MAX) for line in lines):
        if size + 1 + len(line) > TEXT_MAX:
            chunks.append([])
            size = -1
        chunks[-1].append(line)
        size += 1 + len(line)
    texts = ("\n".join(chunk).strip("\n") for chunk in chunks)
    return [text for text in texts if text.strip()]


def _field(fact: Fact) -> dict[str, Any]:
    label = f"*{escape(fact.label)}*\n" if fact.label.strip() else ""
    value = escape(fact.value) if fact.value.strip() else "—"
    return _mrkdwn(_cut_escaped(label + value, FIELD_MAX))


def _image(chart: Chart | None, image: SlackImage | None) -> list[Block]:
    if image is None:
        return []
    if chart is None:
        raise ValueError("an image was given for a card without a chart")
    alt_text = chart.alt_text.strip() or chart.title.strip() or "Chart"
    block: Block = {"type": "image", "alt_text": _cut(alt_text, IMAGE_TEXT_MAX)}
    if chart.title.strip():
        block["title"] = _plain(chart.title, IMAGE_TEXT_MAX)
    if image.file_id is not None:
        block["slack_file"] = {"id": image.file_id}
    else:
        block["image_url"] = image.url
    return [block]


def _actions(buttons: tuple[Button, ...]) -> list[Block]:
    """Buttons in a row; past three, the first two and a "More" overflow menu with the
    rest (when they fit one: 2 to 5 options of at most 150 characters each)."""
    shown: list[Button] = list(buttons)
    rest: tuple[Button, ...] = ()
    choices = all(b.action == CHOICE for b in buttons)  # each account its own button
    if len(buttons) > VISIBLE_BUTTONS and not choices:
        split = buttons[: VISIBLE_BUTTONS - 1], buttons[VISIBLE_BUTTONS - 1 :]
        if _fits_overflow(split[1]):
            shown, rest = list(split[0]), split[1]
    elements = [_button(b, i) for b, i in zip(shown, _action_ids(tuple(shown)), strict=True)]
    if rest:
        elements.append(
            {
                "type": "overflow",
                "action_id": ACTION_PREFIX + OVERFLOW_ACTION,
                "options": [_option(b) for b in rest],
            }
        )
    return [
        {"type": "actions", "elements": elements[i : i + BUTTONS_PER_ACTIONS]}
        for i in range(0, len(elements), BUTTONS_PER_ACTIONS)
    ]


def _fits_overflow(buttons: tuple[Button, ...]) -> bool:
    low, high = OVERFLOW_OPTIONS
    return low <= len(buttons) <= high and all(
        len(_option_value(b)) <= OPTION_VALUE_MAX for b in buttons
    )


def _option_value(button: Button) -> str:
    return f"{button.action}|{button.value}"


def _option(button: Button) -> dict[str, Any]:
    option: dict[str, Any] = {
        "text": _plain(button.label, BUTTON_TEXT_MAX),
        "value": _option_value(button),
    }
    if button.url is not None:
        option["url"] = button.url
    return option


def chosen(action: dict[str, Any]) -> tuple[str, str]:
    """The (action_id, value) a block action stands for: a button's own, or for the "More"
    menu, those of the option picked."""
    action_id, value = str(action.get("action_id", "")), str(action.get("value", ""))
    if action.get("type") == "overflow" and action_id == ACTION_PREFIX + OVERFLOW_ACTION:
        picked = str((action.get("selected_option") or {}).get("value", ""))
        name, _, value = picked.partition("|")
        return ACTION_PREFIX + name, value
    return action_id, value


def _action_ids(buttons: tuple[Button, ...]) -> list[str]:
    """Prefix each action; number the buttons that share one so every id is unique."""
    counts = Counter(b.action for b in buttons)
    seen: Counter[str] = Counter()
    ids = []
    for b in buttons:
        if _NUMBERED.search(b.action):
            raise ValueError(f"button action {b.action!r} must not end in ':<digits>'")
        action_id = ACTION_PREFIX + b.action
        if counts[b.action] > 1:
            seen[b.action] += 1
            action_id += f":{seen[b.action]}"
        if len(action_id) > ACTION_ID_MAX:
            raise ValueError(f"button action {b.action!r} is too long for Slack")
        ids.append(action_id)
    return ids


def _button(button: Button, action_id: str) -> dict[str, Any]:
    if len(button.value) > BUTTON_VALUE_MAX:
        raise ValueError(
            f"button {button.label!r} has a {len(button.value)}-character value;"
            f" Slack allows {BUTTON_VALUE_MAX}"
        )
    element: dict[str, Any] = {
        "type": "button",
        "text": _plain(button.label, BUTTON_TEXT_MAX),
        "action_id": action_id,
    }
    if button.value:
        element["value"] = button.value
    if button.style is not None:
        element["style"] = button.style
    if button.url is not None:
        if len(button.url) > BUTTON_URL_MAX:
            raise ValueError(f"button {button.label!r} has a URL longer than {BUTTON_URL_MAX}")
        element["url"] = button.url
    return element


def _with_mentions(block: Block, named: tuple[str, ...], people: Mapping[str, str]) -> Block:
    """The footer with each person Slack knows as a mention (``<@U123>``) instead of their
    email; the rest stays escaped text."""
    first = dict(block["elements"][0])
    text = str(first["text"])
    for handle in named:
        user_id = people.get(handle)
        if user_id and _SLACK_USER.match(user_id):
            text = text.replace(escape(handle), f"<@{user_id}>")
    first["text"] = text
    return {**block, "elements": [first, *block["elements"][1:]]}


def _context(footer: str | None, context: str | None) -> list[Block]:
    texts = [text for text in (footer, context) if text and text.strip()]
    if not texts:
        return []
    elements = [_mrkdwn(_cut_escaped(escape(text), TEXT_MAX)) for text in texts]
    return [{"type": "context", "elements": elements}]


def _text_section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit)}


def _cut(text: str, limit: int) -> str:
    """Shorten text to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _cut_escaped(text: str, limit: int) -> str:
    """Shorten escaped text like :func:`_cut`, never leaving half an entity."""
    if len(text) <= limit:
        return text
    return _PARTIAL_ENTITY.sub("", text[: limit - 1]) + ELLIPSIS
