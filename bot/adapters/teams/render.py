"""Render a :class:`~core.messages.Card` as a Microsoft Teams Adaptive Card (schema 1.5).

Pure functions: no Teams calls. Teams shows images only by URL, so the chart is not
drawn here: the adapter stores :func:`bot.adapters.charts.render_png` output, serves it over
https and passes ``chart_url``; without a URL the card names the chart instead.

The card says what the Slack message says, in the same order: title, sections
(heading, prose line by line, facts as a FactSet, bullet items), the chart, the
buttons and a quiet footer. The summary is the card's ``fallbackText`` and, through
:func:`fallback_text`, the activity's notification text, as in Slack.

Limits. Teams refuses a message over about 28 KB, so the card's compact UTF-8 JSON
stays within ``limit`` (:data:`CARD_LIMIT`, leaving room for the activity around it).
As in Slack, a card too long keeps its first whole sections and ends them with one
line saying how many it left out; if not even one section fits, it keeps the first
part of the first section; only if that fails too are long texts shortened (with an
ellipsis), as little as needed. A card is never returned over the limit: buttons too
many to fit raise ValueError, a handler's mistake. Teams cuts button titles that do
not fit a row ("Acknowl…" at 500 px), so a card shows at most
:data:`VISIBLE_BUTTONS` in a row, the rest behind a "More" show-card, and a choice
of accounts is one full-width row per account; none is dropped.

Markup. TextBlocks and facts are parsed as (a subset of) markdown, and card text is
plain and may come from customers, so :func:`escape` makes every such text literal:
no links, mentions, emphasis or lists can be injected. Emphasis Steward asks for
(title, headings) is set with ``weight``, never with markup in the text. Button
titles and the image's alt text are not parsed, so they are sent as is.

Buttons. An action button is an ``Action.Execute`` whose ``verb`` is the button's
action and whose ``data`` carries the action and its value, marked as Steward's;
:func:`action_of` reads them back from the invoke. A link button is ``Action.OpenUrl``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from core.messages import CHOICE, Button, Card, Chart, Section, Tone

Element = dict[str, Any]

CARD_LIMIT = 27_000  # bytes of the card's compact UTF-8 JSON; Teams allows ~28 KB a message
VISIBLE_BUTTONS = 3  # buttons in view; a card with more shows two and a "More" show-card
FALLBACK_MAX = 1000
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
SOURCE = "steward"  # data["source"] of every Steward button
ELLIPSIS = "…"

# Only red reads well as text on Teams' light theme (green is 2.1:1, yellow 1.5:1
# against white in the reference renderer): other tones leave the title in the default.
TONE_COLOR: dict[Tone, str | None] = {
    "info": None,
    "good": None,
    "warning": None,
    "danger": "attention",
}
BUTTON_STYLE = {"primary": "positive", "danger": "destructive"}

# Markdown that Teams (and the Adaptive Card renderers) act on: emphasis, code,
# strikethrough, links, mention tags (<at>), date functions ({{DATE(...)}}), escapes.
_SPECIAL = re.compile(r"([\\`*_~\[\]<>{}])")
# A list marker or heading at the start of a line.
_LINE_START = re.compile(r"^([ \t]*)([-+#]|\d+(?=[.)]))(?=[.)]?(?:[ \t]|$))", re.MULTILINE)


def escape(text: str) -> str:
    """Make text literal in a Teams TextBlock or fact: backslash every markdown character.

    ``[x](url)`` stays text (its ``](`` is broken too, for renderers that ignore the
    escaped bracket), ``<at>x</at>`` cannot mention, ``**x**`` is not bold and a
    leading ``- `` or ``1. `` is not a list.
    """
    text = _SPECIAL.sub(r"\\\1", text)
    text = text.replace("\\](", "\\]\\(")
    return _LINE_START.sub(_escape_marker, text)


def _escape_marker(match: re.Match[str]) -> str:
    indent, marker = match[1], match[2]
    if marker.isdigit():  # "1." or "1)": escape the punctuation after the number
        return f"{indent}{marker}\\"
    return f"{indent}\\{marker}"


def fallback_text(card: Card) -> str:
    """The card as one plain sentence (notifications, the activity's ``summary``), never empty.

    Plain text, not escaped: send it as a ``summary`` or with ``textFormat: plain``.
    """
    text = card.summary.strip() or card.title.strip() or "Steward"
    return _cut(text, FALLBACK_MAX)


def action_of(data: object) -> tuple[str, str] | None:
    """The (action, value) a Steward button carried, from an invoke's ``value.action.data``
    (or a submit's ``value``).

    Any JSON is accepted, as it comes from the client: None for data that is not a
    Steward button's (another app's card, a forged click, a string).
    """
    if not isinstance(data, Mapping) or data.get("source") != SOURCE:
        return None
    action, value = data.get("action"), data.get("value", "")
    if not isinstance(action, str) or not action or not isinstance(value, str):
        return None
    return action, value


def to_attachment(
    card: Card,
    *,
    chart_url: Callable[[Chart], str | None] | None = None,
    context: str | None = None,
    limit: int = CARD_LIMIT,
) -> dict[str, Any]:
    """The card as a message attachment."""
    return {
        "contentType": CARD_TYPE,
        "content": to_card(card, chart_url=chart_url, context=context, limit=limit),
    }


def to_invoke_response(
    card: Card,
    *,
    chart_url: Callable[[Chart], str | None] | None = None,
    context: str | None = None,
    limit: int = CARD_LIMIT,
) -> dict[str, Any]:
    """The answer to an ``adaptiveCard/action`` invoke that replaces the card clicked on."""
    return {
        "statusCode": 200,
        "type": CARD_TYPE,
        "value": to_card(card, chart_url=chart_url, context=context, limit=limit),
    }


def message_invoke_response(text: str) -> dict[str, Any]:
    """The answer to an ``adaptiveCard/action`` invoke that shows a short message instead."""
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


def with_mentions(content: dict[str, Any], people: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """The rendered card with each person named in its footer (handle -> their Teams id
    and display name) mentioned there: ``<at>Name</at>`` and the card's mention entity."""
    entities: list[Element] = []
    for block in content.get("body", []):
        if block.get("type") != "TextBlock" or not block.get("isSubtle"):
            continue  # only the footer names people
        text = str(block.get("text", ""))
        for handle, (member_id, name) in people.items():
            tag = f"<at>{name}</at>"
            if escape(handle) in text:
                text = text.replace(escape(handle), tag)
                entities.append(
                    {"type": "mention", "text": tag, "mentioned": {"id": member_id, "name": name}}
                )
        block["text"] = text
    if entities:
        content.setdefault("msteams", {})["entities"] = entities
    return content


def to_card(
    card: Card,
    *,
    chart_url: Callable[[Chart], str | None] | None = None,
    context: str | None = None,
    limit: int = CARD_LIMIT,
) -> dict[str, Any]:
    """Render a card as an Adaptive Card whose compact JSON is at most ``limit`` bytes.

    ``chart_url(chart)`` gives the URL of the chart's image (https, served by the app);
    without one (or when it returns None) the card says the chart is not shown.
    ``context`` (e.g. "Shared by Casey") joins the footer. Raises ValueError when the
    buttons alone leave no room for the card.
    """
    url = chart_url(card.chart) if card.chart is not None and chart_url is not None else None
    whole = _layout(card, url, context, limit, cap=None)
    if whole is not None:
        return whole
    # Not even part of the first section fits: shorten long texts, as little as needed.
    best: dict[str, Any] | None = None
    low, high = 1, max(map(len, _texts(card, context)))
    while low <= high:
        cap = (low + high) // 2
        found = _layout(card, url, context, limit, cap=cap)
        if found is None:
            high = cap - 1
        else:
            best, low = found, cap + 1
    if best is None:
        best = _layout(card, url, context, limit, cap=1, bare=True)
    if best is None:
        raise ValueError(
            f"{len(card.buttons)} buttons leave no room for the card within {limit} bytes"
        )
    return best


@dataclass(frozen=True, slots=True)
class _Parts:
    """The card's elements with every text cut to ``cap`` characters."""

    head: list[Element]
    sections: list[list[Element]]
    tail: list[Element]
    fallback: str


def _layout(
    card: Card,
    url: str | None,
    context: str | None,
    limit: int,
    *,
    cap: int | None,
    bare: bool = False,
) -> dict[str, Any] | None:
    """The card at ``cap`` within ``limit``: all sections, else the first whole ones, else
    part of the first; None when not even that fits (with ``bare``, no section at all)."""
    parts = _parts(card, url, context, cap)
    sections = parts.sections
    count = len(sections)
    if bare:
        note = _note(count, partial=False) if count else None
        return _fitting(_assemble(parts, [], note), limit)
    everything = _fitting(_assemble(parts, sections, None), limit)
    if everything is not None or count == 0:
        return everything
    whole = _largest(
        count - 1,
        lambda k: _assemble(parts, sections[:k], _note(count - k, partial=False)),
        limit,
    )
    if whole is not None:
        return whole
    first = sections[0]
    least = 2 if first[0].get("weight") == "bolder" else 1  # a heading alone says nothing
    return _largest(
        len(first) - 1,
        lambda m: _assemble(parts, [first[:m]], _note(count - 1, partial=True)),
        limit,
        least=least,
    )


def _largest(
    most: int, build: Callable[[int], dict[str, Any]], limit: int, *, least: int = 1
) -> dict[str, Any] | None:
    """The largest ``build(n)`` for ``least <= n <= most`` that fits (its size grows with n)."""
    best = None
    low, high = least, most
    while low <= high:
        middle = (low + high) // 2
        built = _fitting(build(middle), limit)
        if built is None:
            high = middle - 1
        else:
            best, low = built, middle + 1
    return best


def _fitting(card: dict[str, Any], limit: int) -> dict[str, Any] | None:
    return card if size_of(card) <= limit else None


def size_of(card: Mapping[str, Any]) -> int:
    """Bytes of the card as compact UTF-8 JSON: what counts against Teams' limit."""
    return len(orjson.dumps(card))


def _assemble(parts: _Parts, sections: list[list[Element]], note: Element | None) -> dict[str, Any]:
    body = [*parts.head, *(_container(items) for items in sections)]
    if note is not None:
        body.append(note)
    body.extend(parts.tail)
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "fallbackText": parts.fallback,
        "body": body,
        "msteams": {"width": "Full"},
    }


def _container(items: list[Element]) -> Element:
    return {"type": "Container", "items": items, "spacing": "medium"}


def _note(hidden: int, *, partial: bool) -> Element:
    """Say what was left out, in Slack's words."""
    parts = ["The rest of this section"] if partial else []
    if hidden:
        parts.append(f"{hidden} more section{'' if hidden == 1 else 's'}")
    text = f"{' and '.join(parts)} not shown: ask for details"
    return {**_text(f"_{text}_"), "isSubtle": True, "spacing": "medium"}


def _parts(card: Card, url: str | None, context: str | None, cap: int | None) -> _Parts:
    head: list[Element] = []
    if card.title.strip():
        title = {
            **_text(escape(_cut(card.title, cap))),
            "weight": "bolder",
            "size": "large",
            "style": "heading",
        }
        color = TONE_COLOR[card.tone]
        if color is not None:
            title["color"] = color
        head.append(title)
    shown = card.sections
    if not shown and card.summary.strip():  # a title and a summary: the summary is the message
        shown = (Section(text=card.summary),)
    sections = [items for items in (_section(s, cap) for s in shown if not s.folded) if items]
    tail = [*_chart(card.chart, url, cap), *_folded(shown, cap), *_action_sets(card.buttons, cap)]
    tail.extend(_footer(card.footer, context, cap))
    fallback = escape(_cut(fallback_text(card), cap))
    return _Parts(head, sections, tail, fallback)


def _section(section: Section, cap: int | None) -> list[Element]:
    items: list[Element] = []
    if section.title and section.title.strip():
        items.append({**_text(escape(_cut(section.title, cap))), "weight": "bolder"})
    if section.text.strip():
        gap = False
        for line in section.text.strip("\n").split("\n"):
            if not line.strip():
                gap = True
                continue
            block = _text(escape(_cut(line, cap)))
            if items:
                block["spacing"] = "default" if gap else "none"
            items.append(block)
            gap = False
    if section.facts:
        facts = [
            {
                "title": escape(_cut(fact.label, cap)) if fact.label.strip() else "",
                "value": escape(_cut(fact.value, cap)) if fact.value.strip() else "—",
            }
            for fact in section.facts
        ]
        items.append({"type": "FactSet", "facts": facts})
    for i, item in enumerate(section.items):
        bullet = _text(f"• {escape(_cut(item, cap))}")
        link = section.link(i)
        if link is None:
            items.append({**bullet, "spacing": "none"})
            continue
        # the whole line opens the account (a Container's selectAction: no button to cut)
        items.append(
            {
                "type": "Container",
                "items": [{**bullet, "color": "accent"}],
                "selectAction": _action(link, cap),
                "spacing": "none",
            }
        )
    return items


def _folded(sections: Sequence[Section], cap: int | None) -> list[Element]:
    """Sections a reader opens on demand, each behind a show-card titled like it."""
    actions = [
        {
            "type": "Action.ShowCard",
            "title": _cut(s.title or "Details", cap),
            "card": {"type": "AdaptiveCard", "body": _section(replace(s, title=None), cap)},
        }
        for s in sections
        if s.folded
    ]
    return [{"type": "ActionSet", "actions": actions}] if actions else []


def _chart(chart: Chart | None, url: str | None, cap: int | None) -> list[Element]:
    if chart is None:
        return []
    title = chart.title.strip()
    alt = chart.alt_text.strip()
    if url is None:
        named = title or "Chart"
        about = f" ({alt})" if alt and alt != title else ""
        line = escape(_cut(f"Chart not shown: {named}{about}", cap))
        return [{**_text(line), "isSubtle": True, "spacing": "medium"}]
    image: Element = {
        "type": "Image",
        "url": url,
        "altText": _cut(alt or title or "Chart", cap),
        "size": "stretch",
    }
    if not title:
        return [{**image, "spacing": "medium"}]
    heading = {**_text(escape(_cut(title, cap))), "weight": "bolder", "spacing": "medium"}
    return [heading, {**image, "spacing": "small"}]


def _action_sets(buttons: tuple[Button, ...], cap: int | None) -> list[Element]:
    """Buttons as Teams lays them out readably down to 360 px: a choice of accounts as one
    full-width row per choice; otherwise at most :data:`VISIBLE_BUTTONS` in a row, the rest
    behind a "More" show-card (one per row there), so no title is cut to "Acknowl…"."""
    actions = [_action(button, cap) for button in buttons]
    if not actions:
        return []
    if all(b.action == CHOICE for b in buttons):
        return [{"type": "ActionSet", "actions": [a]} for a in actions]
    if len(actions) <= VISIBLE_BUTTONS:
        return [{"type": "ActionSet", "actions": actions}]
    shown, rest = actions[: VISIBLE_BUTTONS - 1], actions[VISIBLE_BUTTONS - 1 :]
    more: Element = {
        "type": "Action.ShowCard",
        "title": "More",
        "card": {
            "type": "AdaptiveCard",
            "body": [{"type": "ActionSet", "actions": [a]} for a in rest],
        },
    }
    return [{"type": "ActionSet", "actions": [*shown, more]}]


def _action(button: Button, cap: int | None) -> Element:
    title = _cut(button.label, cap)
    if button.url is not None:
        action: Element = {"type": "Action.OpenUrl", "title": title, "url": button.url}
    else:
        action = {
            "type": "Action.Execute",
            "title": title,
            "verb": button.action,
            "data": {"source": SOURCE, "action": button.action, "value": button.value},
        }
    if button.style is not None:
        action["style"] = BUTTON_STYLE[button.style]
    return action


def _footer(footer: str | None, context: str | None, cap: int | None) -> list[Element]:
    texts = [text for text in (footer, context) if text and text.strip()]
    return [
        {
            **_text(escape(_cut(text, cap))),
            "size": "small",
            "isSubtle": True,
            "spacing": "medium" if i == 0 else "none",
        }
        for i, text in enumerate(texts)
    ]


def _text(text: str) -> Element:
    return {"type": "TextBlock", "text": text, "wrap": True}


def _texts(card: Card, context: str | None) -> list[str]:
    """Every text of the card that may be shortened (for the longest)."""
    texts = [card.title, card.summary, card.footer or "", context or ""]
    for s in card.sections:
        texts.extend([s.title or "", *s.text.split("\n"), *s.items])
        texts.extend(text for fact in s.facts for text in (fact.label, fact.value))
    if card.chart is not None:
        chart = card.chart
        texts.append(f"Chart not shown: {chart.title} ({chart.alt_text})")
    texts.extend(b.label for b in card.buttons)
    return texts


def _cut(text: str, cap: int | None) -> str:
    """Shorten text to ``cap`` characters, ending in an ellipsis when cut."""
    if cap is None or len(text) <= cap:
        return text
    return text[: cap - 1] + ELLIPSIS
