"""Render a :class:`~core.messages.Card` as plain text for the terminal.

Pure and colourless: the caller may print the result with rich (``markup=False``,
since card text is plain and may contain square brackets).
"""

from __future__ import annotations

import textwrap

from core.messages import Button, Card, Chart, Fact, Section

INDENT = "  "


def to_text(card: Card, *, chart_path: str | None = None, width: int = 88) -> str:
    """Render a card as text: title, sections, chart, buttons and footer, wrapped to ``width``."""
    parts = [_heading(card.title, "=", width)] if card.title.strip() else []
    parts.extend(text for text in (_section(s, width) for s in card.sections) if text)
    if card.chart is not None:
        parts.append(_chart(card.chart, chart_path, width))
    if card.buttons:
        parts.append(_buttons(card.buttons))
    if card.footer and card.footer.strip():
        parts.append(_wrap(card.footer, width))
    return "\n\n".join(parts)


def _heading(title: str, rule: str, width: int) -> str:
    return f"{title}\n{rule * min(len(title), width)}"


def _section(section: Section, width: int) -> str:
    body = []
    if section.text.strip():
        body.append(_wrap(section.text, width))
    if section.facts:
        body.append(_facts(section.facts, width))
    if section.items:
        body.append("\n".join(_item(item, width) for item in section.items))
    heading = (
        [_heading(section.title, "-", width)] if section.title and section.title.strip() else []
    )
    return "\n".join([*heading, "\n\n".join(body)]).strip("\n")


def _wrap(text: str, width: int) -> str:
    """Wrap each line of prose to ``width``, keeping blank lines and unbroken long words."""
    return "\n".join(_fill(line, width) for line in text.split("\n"))


def _fill(text: str, width: int, first: str = "", rest: str = "") -> str:
    filled = textwrap.fill(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return filled or first.rstrip()


def _facts(facts: tuple[Fact, ...], width: int) -> str:
    """Align facts as ``label: value`` with the values in one column."""
    column = min(max(len(fact.label) for fact in facts) + 2, width // 2)
    lines = [
        _fill(fact.value, width, INDENT + f"{fact.label}: ".ljust(column), INDENT + " " * column)
        for fact in facts
    ]
    return "\n".join(lines)


def _item(item: str, width: int) -> str:
    return _fill(item, width, f"{INDENT}- ", INDENT * 2)


def _chart(chart: Chart, path: str | None, width: int) -> str:
    where = f"saved to {path}" if path else f"({chart.alt_text})"
    return _fill(f"Chart: {chart.title} {where}", width, rest=INDENT)


def _buttons(buttons: tuple[Button, ...]) -> str:
    """List action buttons as ``[Label]`` on one line, then each link as ``Label: url``."""
    actions = "  ".join(f"[{b.label}]" for b in buttons if b.url is None)
    links = [f"{b.label}: {b.url}" for b in buttons if b.url is not None]
    return "\n".join(line for line in (actions, *links) if line)
