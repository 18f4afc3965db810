"""What every chat handler receives: who asked, what they typed, and what they may see.

The platform adapters build these (a Slack command, a Teams message, a line typed in
the terminal); the handlers in this package only read them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Engine

from core.llm import LLM
from signals.config import ScoringConfig


def display_name(handle: str) -> str:
    """A readable name for a CRM handle: jonas.weber@example.com -> Jonas Weber."""
    local = handle.split("@", 1)[0]
    return " ".join(part.capitalize() for part in re.split(r"[._-]+", local) if part) or handle


@dataclass(frozen=True, slots=True)
class Person:
    """A user as the platform knows them (ids, email and name may all name a CSM).

    ``tz`` is the IANA time zone the platform has for them, if any.
    """

    id: str
    email: str | None = None
    name: str | None = None
    tz: str | None = None

    def handles(self) -> tuple[str, ...]:
        """Every string by which an account's CSM or AE field may name this person."""
        return tuple(h for h in (self.id, self.email, self.name) if h)


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A command as typed: ``/health acme`` is command "health", text "acme".

    ``account_id`` skips name matching (a button that already knows the account);
    ``mentioned`` are the people named in the text (``/steward book @casey``);
    ``channel`` and ``platform`` say where it was typed (empty where there is no
    conversation, as in the terminal demo): subscriptions post there. ``direct`` is set
    by the adapter when the conversation is a direct message with Steward (a Slack IM,
    a Teams personal chat).
    """

    command: str
    text: str
    user: Person
    account_id: str | None = None
    mentioned: tuple[Person, ...] = ()
    channel: str = ""
    platform: str = ""
    direct: bool = False


def everyone(account_id: str) -> bool:
    """The default scope: an asker who may see account data here may see every account."""
    return True


@dataclass(frozen=True, slots=True)
class Context:
    """What commands read: the database, the scoring settings, today, and the place's rules.

    ``visible`` says which accounts the asker may see (every one, by default: access is
    decided per place and person in handlers.access, not per account); account commands
    and every ask tool honour it. ``llm`` is the configured model, or None (templates).
    """

    engine: Engine
    config: ScoringConfig
    now: datetime
    may_share: bool = True
    notes: tuple[str, ...] = ()
    llm: LLM | None = None
    visible: Callable[[str], bool] = everyone

    @property
    def today(self) -> date:
        """Today's UTC date."""
        return self.now.date()


def typed(command: str, platform: str = "") -> str:
    """A command as a person types it where they are: ``/health acme`` in Slack and the
    terminal; ``health acme`` in Teams, which has no slash commands for Steward."""
    if platform != "teams" or not command.startswith("/"):
        return command
    return command.removeprefix("/steward ").removeprefix("/")
