"""Slack's commands typed in a terminal: a line in, the neutral handler's Card out as text.

``/health acme``, ``/value acme 30d`` or ``/steward risks`` (the slash is optional) go
through :func:`handlers.chat.commands.handle` exactly as Slack's and Teams' do; charts are
drawn to PNG files in a directory and the answer names the file; buttons are listed as
``[Label]`` hints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from bot.adapters.charts import render_png
from bot.adapters.console.outbox import delivered
from bot.adapters.console.render import to_text
from core.messages import Card
from handlers.chat.commands import handle, help_card, without_share
from handlers.chat.context import CommandRequest, Context, Person, display_name

PLATFORM = "console"
PROMPT = "steward> "
QUIT = frozenset({"quit", "exit", "/quit", "/exit", "q"})
MENTION = re.compile(r"(?<!\S)@(\S+)")
SLUG = re.compile(r"[^a-z0-9]+")
LEAVE = "Type quit, exit or Ctrl-D to leave."
HELP_TITLE = help_card().title
DEFAULT_CHART_FILE = "chart.png"


def slug(text: str) -> str:
    """A file-name-safe form of a title: "Acme Corp" -> "acme-corp"."""
    return SLUG.sub("-", text.casefold()).strip("-") or "chart"


class Session:
    """One person's commands in the terminal, answered against one database."""

    def __init__(
        self,
        ctx: Context,
        user: Person,
        charts: Path,
        *,
        owners: Sequence[str] = (),
        width: int = 88,
    ) -> None:
        """
        Args:
            ctx: the database, scoring settings and clock the handlers read.
            user: who is typing (``/steward book`` shows their accounts).
            charts: the directory chart images are written to.
            owners: the CSM and AE handles of the book, so that ``@jonas`` names one.
            width: the width answers are wrapped to.
        """
        self.ctx = ctx
        self.user = user
        self.charts = charts
        self.owners = tuple(owners)
        self.width = width

    def request(self, line: str) -> CommandRequest:
        """The command a typed line stands for: ``/value acme 30d`` is value, "acme 30d"."""
        words = line.strip().removeprefix("/")
        command, _, text = words.partition(" ")
        if command.casefold() == "help":
            command, text = "steward", "help"
        mentioned = tuple(self._person(token) for token in MENTION.findall(text))
        text = MENTION.sub("", text).strip()
        return CommandRequest(
            command.casefold(), text, self.user, mentioned=mentioned, platform=PLATFORM
        )

    def answer(self, line: str) -> str:
        """The rendered answer to one typed line ("" for a blank line)."""
        if not line.strip():
            return ""
        card = without_share(handle(self.request(line), self.ctx))  # no channel to share to
        text = self.render(card)
        return f"{text}\n\n{LEAVE}" if card.title == HELP_TITLE else text

    def delivered(
        self, *, channel: str, kind: str, since: datetime | None = None, limit: int = 1000
    ) -> list[Card]:
        """The cards of one kind the worker's jobs delivered to a console channel, newest first."""
        return delivered(self.ctx.engine, channel=channel, kind=kind, since=since, limit=limit)

    def render(self, card: Card) -> str:
        """A card as text, its chart saved as a PNG file whose path the text gives."""
        path = self.save_chart(card)
        return to_text(card, chart_path=str(path) if path else None, width=self.width)

    def save_chart(self, card: Card) -> Path | None:
        """Draw the card's chart into the charts directory; None when it has none."""
        if card.chart is None:
            return None
        self.charts.mkdir(parents=True, exist_ok=True)
        name = card.chart.filename
        if name == DEFAULT_CHART_FILE:
            name = f"{slug(card.title.split(':', 1)[0])}-{name}"
        path = self.charts / name
        path.write_bytes(render_png(card.chart))
        return path

    def _person(self, token: str) -> Person:
        """The book's owner a ``@mention`` names (by handle, its user part or first name)."""
        wanted = token.casefold()
        for owner in self.owners:
            local = owner.casefold().split("@", 1)[0]
            if wanted in (owner.casefold(), local, local.split(".", 1)[0]):
                email = owner if "@" in owner else None
                return Person(owner, email=email, name=display_name(owner))
        return Person(token, email=token if "@" in token else None)


def run_prompt(
    session: Session,
    *,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> int:
    """Answer typed lines until quit, exit or end of input; return how many were answered."""
    answered = 0
    while True:
        try:
            line = read(PROMPT)
        except (EOFError, KeyboardInterrupt):
            write("")
            return answered
        if line.strip().casefold() in QUIT:
            return answered
        text = session.answer(line)
        if text:
            write(text)
            answered += 1
