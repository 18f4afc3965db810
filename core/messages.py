"""The neutral message model every handler returns, and every platform renders.

A :class:`Card` is what Steward says: a title, a one-sentence summary (the
notification and screen-reader text), sections of prose, facts and bullet items,
an optional chart, and buttons. Slack renders it as Block Kit, Teams as an
Adaptive Card, the terminal as text; nothing platform-specific lives here.

Text is plain: no markup. Renderers escape it for their platform and give titles
and labels their emphasis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

Tone = Literal["info", "good", "warning", "danger"]
ButtonStyle = Literal["primary", "danger"]
ChartKind = Literal["line", "bar"]
LineStyle = Literal["solid", "dashed", "dotted"]


@dataclass(frozen=True, slots=True)
class Fact:
    """A labelled figure: ``Health: 72 (healthy)``."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Section:
    """A block of the card: an optional heading, prose, facts and bullet items.

    ``links`` (parallel to ``items``, or empty) is what each line opens when clicked,
    ``None`` for a line that opens nothing: Slack puts the button beside the line,
    Teams makes the whole line clickable, the console has nothing to click.
    ``folded`` marks detail a reader opens on demand (how figures were computed): Teams
    keeps it behind a button of the section's title; Slack and the console show it.
    """

    title: str | None = None
    text: str = ""
    facts: tuple[Fact, ...] = ()
    items: tuple[str, ...] = ()
    links: tuple[Button | None, ...] = ()
    folded: bool = False

    def link(self, index: int) -> Button | None:
        """What the item at ``index`` opens, if anything."""
        return self.links[index] if index < len(self.links) else None


@dataclass(frozen=True, slots=True)
class Series:
    """One line (or set of bars) of a chart; None is a gap."""

    name: str
    values: tuple[float | None, ...]
    style: LineStyle = "solid"
    panel: int = 0  # charts of several panels (small multiples) draw each series in its own


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded range between two values per day (a projection's likely range); None: no band."""

    name: str
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference line: horizontal at ``value`` or vertical at ``day``."""

    label: str
    value: float | None = None
    day: date | None = None


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart as data: the platform adapter renders it to an image where it can.

    ``days`` are the x axis; every series and band has one value per day. ``unit`` says
    how values read: a currency code (``USD``) draws money with its symbol and
    thousands separators, anything else counts with k/M/B suffixes.
    """

    title: str
    alt_text: str
    days: tuple[date, ...]
    series: tuple[Series, ...]
    kind: ChartKind = "line"
    y_label: str = ""
    references: tuple[Reference, ...] = ()
    filename: str = "chart.png"
    bands: tuple[Band, ...] = ()
    unit: str = ""

    def __post_init__(self) -> None:
        lines = [(s.name, s.values) for s in self.series]
        lines += [(b.name, v) for b in self.bands for v in (b.lower, b.upper)]
        for name, values in lines:
            if len(values) != len(self.days):
                raise ValueError(
                    f"series {name!r} has {len(values)} values for {len(self.days)} days"
                )

    @property
    def panels(self) -> int:
        """How many stacked panels the chart draws (1 unless series name others)."""
        return 1 + max((s.panel for s in self.series), default=0)


CHOICE = "pick"  # the action of a "which account?" button: each shown as its own row


@dataclass(frozen=True, slots=True)
class Button:
    """A button: an action Steward handles (with an opaque ``value``), or a link (``url``)."""

    label: str
    action: str
    value: str = ""
    style: ButtonStyle | None = None
    url: str | None = None


class UnreadableButton(ValueError):
    """A button value Steward did not write (a forged click, another app's card)."""


@dataclass(frozen=True, slots=True)
class ButtonValue:
    """What an account button acts on, carried in :attr:`Button.value`.

    The wire form is compact JSON (``{"c": command, "a": account id, "p": period}``):
    Slack caps a button's value at 2,000 characters, and buttons already posted keep
    the form they were posted with, so it does not change.
    """

    command: str
    account_id: str
    period: str | None = None

    def encode(self) -> str:
        """The text to put in a button's value."""
        data = {"c": self.command, "a": self.account_id, "p": self.period}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> ButtonValue:
        """Read a button's value back.

        Raises:
            UnreadableButton: the value is not one Steward wrote.
        """
        try:
            data = json.loads(value)
            command, account_id, period = data["c"], data["a"], data.get("p")
        except (ValueError, TypeError, KeyError) as exc:
            raise UnreadableButton(f"not a Steward button value: {value[:80]!r}") from exc
        return cls(str(command), str(account_id), None if period is None else str(period))


@dataclass(frozen=True, slots=True)
class Card:
    """One message from Steward.

    Args:
        title: the headline, e.g. "Acme Corp: health 72 (healthy)".
        summary: one sentence that stands alone: notifications, screen readers and
            clients that show no rich content use it.
        sections: the body, in order.
        chart: an optional chart, shown as an image after the sections.
        buttons: actions, shown after everything else.
        footer: a quiet last line (data freshness, where the figures come from).
        mentions: people named in the footer (an email or a platform user id, as the
            CRM has them): a platform that can mention them there does (Slack).
        tone: how the news feels; renderers may colour by it.
    """

    title: str
    summary: str
    sections: tuple[Section, ...] = ()
    chart: Chart | None = None
    buttons: tuple[Button, ...] = ()
    footer: str | None = None
    tone: Tone = "info"
    mentions: tuple[str, ...] = ()


def card_to_dict(card: Card) -> dict[str, Any]:
    """The card as JSON-ready data (the outbox stores cards so any platform can render them)."""
    data = asdict(card)
    if card.chart is not None:
        chart = data["chart"]
        chart["days"] = [d.isoformat() for d in card.chart.days]
        for ref in chart["references"]:
            ref["day"] = ref["day"].isoformat() if ref["day"] else None
    return data


def card_from_dict(data: Mapping[str, Any]) -> Card:
    """The card :func:`card_to_dict` stored."""
    chart = data.get("chart")
    return Card(
        title=data["title"],
        summary=data["summary"],
        sections=tuple(
            Section(
                title=s.get("title"),
                text=s.get("text", ""),
                facts=tuple(Fact(**f) for f in s.get("facts", ())),
                items=tuple(s.get("items", ())),
                links=tuple(Button(**b) if b else None for b in s.get("links", ())),
                folded=bool(s.get("folded", False)),
            )
            for s in data.get("sections", ())
        ),
        chart=_chart_from_dict(chart) if chart else None,
        buttons=tuple(Button(**b) for b in data.get("buttons", ())),
        footer=data.get("footer"),
        tone=data.get("tone", "info"),
        mentions=tuple(data.get("mentions", ())),
    )


def _chart_from_dict(data: Mapping[str, Any]) -> Chart:
    return Chart(
        title=data["title"],
        alt_text=data["alt_text"],
        days=tuple(date.fromisoformat(d) for d in data["days"]),
        series=tuple(
            Series(s["name"], tuple(s["values"]), s.get("style", "solid"), s.get("panel", 0))
            for s in data["series"]
        ),
        kind=data.get("kind", "line"),
        y_label=data.get("y_label", ""),
        references=tuple(
            Reference(
                r["label"], r.get("value"), date.fromisoformat(r["day"]) if r.get("day") else None
            )
            for r in data.get("references", ())
        ),
        filename=data.get("filename", "chart.png"),
        bands=tuple(
            Band(b["name"], tuple(b["lower"]), tuple(b["upper"])) for b in data.get("bands", ())
        ),
        unit=data.get("unit", ""),
    )
