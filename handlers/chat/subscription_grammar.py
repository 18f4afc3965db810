"""The words of ``/steward subscribe`` and ``unsubscribe``, parsed; pure: no storage, no chat.

Grammar (words after ``subscribe``, options in any order, each at most once)::

    digest|alerts|manager [my book | segment S | tier T | all]
                          [at HH:MM] [tz Area/City] [weekdays] [quiet HH:MM-HH:MM]

``at`` and ``weekdays`` set when a digest posts; ``quiet`` holds alerts until the quiet
hours end. What is left out stays None in the :class:`SubscribeSpec`: the command fills
in the defaults (see :mod:`handlers.chat.subscriptions`). ``unsubscribe`` takes one kind
or none.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import available_timezones

from rapidfuzz import fuzz, process

from signals.tiers import ORDER as TIERS

SUBSCRIBE_USAGE = (
    "/steward subscribe digest|alerts|manager [my book | segment S | tier T | all] "
    "[at 08:30] [tz Europe/Paris] [weekdays] [quiet 20:00-08:00]"
)
UNSUBSCRIBE_USAGE = "/steward unsubscribe [digest|alerts|manager]"
KIND_ALIASES = {
    "digest": "digest",
    "digests": "digest",
    "alerts": "alerts",
    "alert": "alerts",
    "manager": "manager",
    "managers": "manager",
}
OPTION_WORDS = frozenset({"at", "tz", "timezone", "weekdays", "quiet"})
SCOPE_WORDS = frozenset({"my", "book", "all", "segment", "tier"})
CLOCK = re.compile(r"^(\d{1,2})(?::?(\d{2}))?(am|pm)?$")
DASHES = re.compile(r"\s*[-–—]\s*")
SUGGEST_CUTOFF = 70.0  # rapidfuzz WRatio: below this a zone name is no suggestion
SUGGEST_MARGIN = 5.0  # suggest only names about as close as the closest


class SubscriptionError(ValueError):
    """What was typed cannot be a subscription; the message says why in one sentence."""

    def __init__(self, message: str, usage: str = SUBSCRIBE_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass(frozen=True, slots=True)
class SubscribeSpec:
    """A parsed ``/steward subscribe``: None where the typist left the choice to the defaults.

    ``scope`` is "all", "book", "segment" or "tier"; ``scope_value`` the segment as typed
    (checked against the accounts later) or the tier. ``timezone`` is a canonical IANA name.
    """

    kind: str
    scope: str | None = None
    scope_value: str | None = None
    at_time: str | None = None
    timezone: str | None = None
    weekdays_only: bool = False
    quiet: tuple[str, str] | None = None


def parse_subscribe(text: str) -> SubscribeSpec:
    """Parse the words after ``subscribe``.

    Raises:
        SubscriptionError: a missing or unknown kind, an unknown word, a bad time, an
            unknown time zone or tier, an option given twice or one the kind has no use for.
    """
    words = DASHES.sub("-", text.strip()).split()
    if not words:
        raise SubscriptionError("Say what to subscribe to: digest, alerts or manager.")
    kind = parse_kind(words[0])
    fields: dict[str, Any] = {}
    i = 1
    while i < len(words):
        i = _take(words, i, fields)
    spec = SubscribeSpec(kind=kind, **fields)
    _check_options(spec, fields)
    return spec


def parse_kind(word: str, usage: str = SUBSCRIBE_USAGE) -> str:
    """The subscription kind a word names (plurals accepted).

    Raises:
        SubscriptionError: the word names no kind.
    """
    kind = KIND_ALIASES.get(word.lower())
    if kind is not None:
        return kind
    if word.lower() in SCOPE_WORDS | OPTION_WORDS:
        raise SubscriptionError("Say what to subscribe to first: digest, alerts or manager.", usage)
    raise SubscriptionError(
        f"Steward has no subscription called “{word}”: choose digest, alerts or manager.", usage
    )


def _take(words: list[str], i: int, fields: dict[str, Any]) -> int:
    """Read the scope or option at ``words[i]`` into ``fields``; return the next index."""
    word = words[i].lower()
    if word in SCOPE_WORDS:
        return _take_scope(words, i, fields)
    if word == "at":
        value = _argument(words, i, "a time after “at”, like at 08:30")
        _put(fields, "at_time", parse_clock(value), "at")
        return i + 2
    if word in ("tz", "timezone"):
        value = _argument(words, i, "a time zone after “tz”, like tz Europe/Paris")
        _put(fields, "timezone", parse_zone(value), "tz")
        return i + 2
    if word == "weekdays":
        _put(fields, "weekdays_only", True, "weekdays")
        return i + 1
    if word == "quiet":
        value = _argument(words, i, "quiet hours after “quiet”, like quiet 20:00-08:00")
        _put(fields, "quiet", parse_quiet(value), "quiet")
        return i + 2
    raise SubscriptionError(f"Steward does not understand “{words[i]}” in a subscription.")


def _take_scope(words: list[str], i: int, fields: dict[str, Any]) -> int:
    word = words[i].lower()
    if word == "my":
        if i + 1 >= len(words) or words[i + 1].lower() != "book":
            raise SubscriptionError("Write “my book” for the accounts you own.")
        _scope(fields, "book", None)
        return i + 2
    if word == "book":
        _scope(fields, "book", None)
        return i + 1
    if word == "all":
        _scope(fields, "all", None)
        return i + 1
    if word == "tier":
        value = _argument(words, i, f"a tier after “tier”: {', '.join(TIERS)}")
        _scope(fields, "tier", parse_tier(value))
        return i + 2
    end = i + 1
    while end < len(words) and words[end].lower() not in OPTION_WORDS | SCOPE_WORDS:
        end += 1
    if end == i + 1:
        raise SubscriptionError("Name a segment after “segment”, like segment enterprise.")
    _scope(fields, "segment", " ".join(words[i + 1 : end]))
    return end


def _scope(fields: dict[str, Any], scope: str, value: str | None) -> None:
    if "scope" in fields:
        raise SubscriptionError(
            "Give one scope only: my book, segment S, tier T or all (all is the default)."
        )
    fields["scope"] = scope
    fields["scope_value"] = value


def _put(fields: dict[str, Any], name: str, value: Any, word: str) -> None:
    if name in fields:
        raise SubscriptionError(f"“{word}” is given twice; give it once.")
    fields[name] = value


def _argument(words: list[str], i: int, wanted: str) -> str:
    if i + 1 >= len(words) or words[i + 1].lower() in OPTION_WORDS:
        raise SubscriptionError(f"Give {wanted}.")
    return words[i + 1]


def _check_options(spec: SubscribeSpec, fields: dict[str, Any]) -> None:
    if spec.kind == "alerts":
        if "at_time" in fields:
            raise SubscriptionError(
                "Alerts post as they happen, so “at” has no use for them; "
                "use quiet hours to hold them."
            )
        if "weekdays_only" in fields:
            raise SubscriptionError(
                "“weekdays” sets the days a digest posts; for alerts, use quiet hours."
            )
    elif "quiet" in fields:
        raise SubscriptionError(
            "Quiet hours hold alerts only; a digest posts once a day at its time."
        )


def parse_clock(value: str) -> str:
    """A local time as ``HH:MM``: 8:30, 08:30, 0830, 8am and 6:30pm are all understood.

    Raises:
        SubscriptionError: not a time of day.
    """
    match = CLOCK.match(value.strip().lower())
    if match is not None:
        hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
        if half and 1 <= hour <= 12:
            hour = hour % 12 + (12 if half == "pm" else 0)
        elif half:
            hour = 24  # 0am, 13pm: not a time
        if 0 <= hour <= 23 and 0 <= minute <= 59:
            return f"{hour:02d}:{minute:02d}"
    raise SubscriptionError(
        f"“{value}” is not a time of day: write it on a 24-hour clock, like 08:30 or 17:00."
    )


def parse_quiet(value: str) -> tuple[str, str]:
    """Quiet hours ``20:00-08:00`` as (start, end); they may run past midnight.

    Raises:
        SubscriptionError: not two different times joined by a dash.
    """
    start, dash, end = value.partition("-")
    if not dash or not start or not end:
        raise SubscriptionError(
            f"“{value}” is not quiet hours: write a start and an end, like quiet 20:00-08:00."
        )
    span = parse_clock(start), parse_clock(end)
    if span[0] == span[1]:
        raise SubscriptionError("Quiet hours must start and end at different times.")
    return span


def parse_tier(value: str) -> str:
    """A service tier, case-insensitively.

    Raises:
        SubscriptionError: no such tier.
    """
    tier = value.lower()
    if tier not in TIERS:
        raise SubscriptionError(f"There is no tier “{value}”: the tiers are {join_words(TIERS)}.")
    return tier


@functools.cache
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def parse_zone(value: str) -> str:
    """The canonical IANA name of a time zone, typed in any case.

    Raises:
        SubscriptionError: an unknown zone; the message suggests the closest names.
    """
    name = _zones().get(value.casefold())
    if name is not None:
        return name
    close = _close_zones(value)
    hint = (
        f"did you mean {join_words(close, 'or')}?"
        if close
        else "use an IANA name such as Europe/Paris or America/New_York."
    )
    raise SubscriptionError(f"“{value}” is not a time zone Steward knows: {hint}")


def _close_zones(value: str) -> list[str]:
    """Up to three Area/City names close to what was typed, as close as the closest."""
    found = process.extract(
        value,
        _suggestable_zones(),
        scorer=fuzz.WRatio,
        processor=str.casefold,
        limit=3,
        score_cutoff=SUGGEST_CUTOFF,
    )
    best = found[0][1] if found else 0.0
    return [name for name, score, _ in found if score >= best - SUGGEST_MARGIN]


@functools.cache
def _suggestable_zones() -> tuple[str, ...]:
    """Zones worth suggesting: Area/City names (not legacy ones like ROK or EST5EDT)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name))


def parse_unsubscribe(text: str) -> str | None:
    """The kind named after ``unsubscribe``, or None (every kind) when none is.

    Raises:
        SubscriptionError: more than one word, or a word that names no kind.
    """
    words = text.split()
    if len(words) > 1:
        raise SubscriptionError(
            "Name one kind to unsubscribe from, or none for all of them.", UNSUBSCRIBE_USAGE
        )
    return parse_kind(words[0], UNSUBSCRIBE_USAGE) if words else None


def join_words(items: tuple[str, ...] | list[str], last: str = "and") -> str:
    """Items as a phrase: "a", "a and b", "a, b and c" (or another word than "and")."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"
