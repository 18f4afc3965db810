"""Subscriptions set from a chat: ``/steward subscribe``, ``unsubscribe`` and ``subscriptions``.

Grammar (words after ``subscribe``, options in any order, each at most once)::

    digest|alerts|manager [my book | segment S | tier T | all]
                          [at HH:MM] [tz Area/City] [weekdays] [quiet HH:MM-HH:MM]

A subscription posts to the conversation it was typed in. A channel has one
subscription of each kind; subscribing again replaces it with exactly what was typed
(left-out options take their defaults: every account, 08:30, the asker's time zone,
every day, no quiet hours) and the answer lists what changed. ``at`` and ``weekdays``
set when a digest posts; ``quiet`` holds alerts until the quiet hours end. In a direct
message with Steward only ``digest my book`` and ``alerts my book`` may be subscribed
(the scope defaults to "my book" there); they post to that direct message.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from rapidfuzz import fuzz, process

from core.messages import Card, Fact, Section
from digests.schedule import next_due
from handlers.chat.context import CommandRequest, Context
from signals.tiers import ORDER as TIERS
from storage import subscriptions as store
from storage.db import read_connection, write_transaction
from storage.subscriptions import Sub

SUBSCRIBE_USAGE = (
    "/steward subscribe digest|alerts|manager [my book | segment S | tier T | all] "
    "[at 08:30] [tz Europe/Paris] [weekdays] [quiet 20:00-08:00]"
)
UNSUBSCRIBE_USAGE = "/steward unsubscribe [digest|alerts|manager]"
DEFAULT_AT = "08:30"
KIND_ALIASES = {
    "digest": "digest",
    "digests": "digest",
    "alerts": "alerts",
    "alert": "alerts",
    "manager": "manager",
    "managers": "manager",
}
KIND_NAMES = {"digest": "daily digest", "alerts": "alerts", "manager": "manager digest"}
OPTION_WORDS = frozenset({"at", "tz", "timezone", "weekdays", "quiet"})
SCOPE_WORDS = frozenset({"my", "book", "all", "segment", "tier"})
CLOCK = re.compile(r"^(\d{1,2})(?::?(\d{2}))?(am|pm)?$")
DASHES = re.compile(r"\s*[-–—]\s*")
MAX_SEGMENTS_SHOWN = 12
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
        raise SubscriptionError(f"There is no tier “{value}”: the tiers are {_words(TIERS)}.")
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
        f"did you mean {_words(close, 'or')}?"
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


def _words(items: tuple[str, ...] | list[str], last: str = "and") -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def subscribe_card(request: CommandRequest, ctx: Context) -> Card:
    """Check, store and confirm ``/steward subscribe ...`` (the request's text is the rest)."""
    try:
        fields = _subscription_fields(request, ctx)
    except SubscriptionError as exc:
        return error_card(exc)
    with write_transaction(ctx.engine) as conn:
        new, previous = store.upsert_subscription(
            conn,
            platform=request.platform,
            channel=request.channel,
            created_by=request.user.id,
            now=ctx.now,
            **fields,
        )
    return _subscribed_card(new, previous, ctx.now, direct=request.direct)


def _subscription_fields(request: CommandRequest, ctx: Context) -> dict[str, Any]:
    spec = parse_subscribe(request.text)
    _require_place(request, ctx)
    scope = _resolve_scope(spec, request)
    value = spec.scope_value
    if scope == "segment":
        value = _known_segment(ctx, value or "")
    elif scope == "book":
        value = request.user.id
    quiet = spec.quiet or (None, None)
    return {
        "kind": spec.kind,
        "scope": scope,
        "scope_value": value,
        "owner_handles": request.user.handles() if scope == "book" else (),
        "at_time": spec.at_time or DEFAULT_AT,
        "timezone": spec.timezone or _user_zone(request.user.tz),
        "weekdays_only": spec.weekdays_only,
        "quiet_start": quiet[0],
        "quiet_end": quiet[1],
    }


def _require_place(request: CommandRequest, ctx: Context, usage: str = SUBSCRIBE_USAGE) -> None:
    if not request.channel or not request.platform:
        raise SubscriptionError(
            "Subscriptions post where they are set: type the command in the channel "
            "(or the direct message with Steward) that should get them.",
            usage,
        )
    if not ctx.may_share:
        raise SubscriptionError(
            "Steward cannot see who is in this conversation, so it will not post account "
            "data here: invite Steward to the channel first.",
            usage,
        )


def _resolve_scope(spec: SubscribeSpec, request: CommandRequest) -> str:
    if not request.direct:
        return spec.scope or "all"
    if spec.kind == "manager" or (spec.scope or "book") != "book":
        raise SubscriptionError(
            "In a direct message with Steward you can subscribe only to digest my book or "
            "alerts my book; subscribe a channel to anything else."
        )
    return "book"


def _known_segment(ctx: Context, typed: str) -> str:
    with read_connection(ctx.engine) as conn:
        segments = store.known_segments(conn)
    for segment in segments:
        if _loose(segment) == _loose(typed):
            return segment
    if not segments:
        raise SubscriptionError(
            f"No account has a segment yet, so there is no segment “{typed}” to subscribe to."
        )
    shown = segments[:MAX_SEGMENTS_SHOWN]
    more = f" (and {len(segments) - len(shown)} more)" if len(segments) > len(shown) else ""
    raise SubscriptionError(
        f"No account is in the segment “{typed}”: the segments are {_words(shown)}{more}."
    )


def _loose(name: str) -> str:
    """A segment name compared loosely: "Mid Market" is "mid-market"."""
    return " ".join(re.split(r"[\s_-]+", name.casefold())).strip()


def _user_zone(tz: str | None) -> str:
    if tz:
        try:
            return parse_zone(tz)
        except SubscriptionError:
            pass
    return "UTC"


def unsubscribe_card(request: CommandRequest, ctx: Context) -> Card:
    """Remove this conversation's subscription of a kind, or all of them without one."""
    try:
        kind = _unsubscribe_kind(request.text)
        _require_place(request, ctx, UNSUBSCRIBE_USAGE)
    except SubscriptionError as exc:
        return error_card(exc)
    where = _where(request)
    with write_transaction(ctx.engine) as conn:
        gone = store.list_subscriptions(
            conn, platform=request.platform, channel=request.channel, kind=kind
        )
        store.remove_subscriptions(
            conn, platform=request.platform, channel=request.channel, kind=kind
        )
    if not gone:
        what = f"no {KIND_NAMES[kind]} subscription" if kind else "no subscriptions"
        return Card(
            title="Nothing to unsubscribe",
            summary=f"{_capital(where)} has {what}; nothing changed.",
        )
    names = _words([KIND_NAMES[s.kind] for s in gone])
    return Card(
        title=f"Unsubscribed: {names}",
        summary=f"{_capital(where)} no longer gets the {names}.",
        footer="Subscribe again any time: " + SUBSCRIBE_USAGE,
    )


def _unsubscribe_kind(text: str) -> str | None:
    words = text.split()
    if len(words) > 1:
        raise SubscriptionError(
            "Name one kind to unsubscribe from, or none for all of them.", UNSUBSCRIBE_USAGE
        )
    return parse_kind(words[0], UNSUBSCRIBE_USAGE) if words else None


def subscriptions_card(request: CommandRequest, ctx: Context) -> Card:
    """This conversation's subscriptions, and how many other conversations have some."""
    if not request.channel or not request.platform:
        return error_card(
            SubscriptionError(
                "Subscriptions belong to a conversation: ask in the channel (or the direct "
                "message with Steward) whose subscriptions you want to see.",
                "/steward subscriptions",
            )
        )
    with read_connection(ctx.engine) as conn:
        everything = store.list_subscriptions(conn)
    here = [s for s in everything if (s.platform, s.channel) == (request.platform, request.channel)]
    others = [s for s in everything if s not in here]
    where = _where(request)
    channels = len({(s.platform, s.channel) for s in others})
    elsewhere = (
        f"{len(others)} subscription{_s(len(others))} in {channels} other "
        f"conversation{_s(channels)}."
    )
    if not here:
        return Card(
            title="No subscriptions here",
            summary=f"{_capital(where)} has no subscriptions.",
            sections=(Section(text=f"Elsewhere: {elsewhere}"), Section(items=(SUBSCRIBE_USAGE,))),
        )
    items = tuple(_line(s) for s in here)
    return Card(
        title=f"Subscriptions of {where}",
        summary=f"{_capital(where)} has {len(here)} subscription{_s(len(here))}.",
        sections=(Section(items=items), Section(text=f"Elsewhere: {elsewhere}")),
        footer="Change one by subscribing again; stop one with " + UNSUBSCRIBE_USAGE,
    )


def error_card(exc: SubscriptionError) -> Card:
    """What was wrong, in one sentence, and how to type the command."""
    return Card(
        title="Subscription not changed",
        summary=exc.message,
        sections=(Section(title="How to type it", items=(exc.usage,)),),
        tone="warning",
    )


def _subscribed_card(new: Sub, previous: Sub | None, now: datetime, *, direct: bool) -> Card:
    where = _capital(_where_channel(new.channel, direct=direct))
    kind = KIND_NAMES[new.kind]
    changes = _changes(previous, new) if previous is not None else []
    if previous is None:
        title = f"Subscribed: {kind}"
    elif changes:
        title = f"Subscription updated: {kind}"
    else:
        title = f"Already subscribed: {kind}"
    sections = [Section(facts=_facts(new, now, direct=direct))]
    if previous is not None:
        lines = tuple(changes) or ("Nothing changed: it already was exactly this.",)
        sections.append(Section(title="What changed", items=lines))
    return Card(
        title=title,
        summary=f"{where} gets {_sentence(new)}.",
        sections=tuple(sections),
        footer=f"Stop it with /steward unsubscribe {new.kind}.",
        tone="good",
    )


def _facts(sub: Sub, now: datetime, *, direct: bool) -> tuple[Fact, ...]:
    facts = [
        Fact("Posts to", _where_channel(sub.channel, direct=direct)),
        Fact("Accounts", _accounts(sub)),
        Fact("When", _when(sub)),
        Fact("Time zone", f"{sub.timezone} ({_offset(sub.timezone, now)} now)"),
    ]
    if sub.kind == "alerts":
        facts.append(Fact("Quiet hours", _quiet(sub) or "none"))
    else:
        facts.append(Fact("Next", _next_post(sub, now)))
    return tuple(facts)


def _sentence(sub: Sub) -> str:
    if sub.kind == "alerts":
        quiet = _quiet(sub)
        held = f", held during quiet hours {quiet}" if quiet else ""
        return f"alerts for {_accounts(sub)} as they happen{held} ({sub.timezone})"
    return f"the {KIND_NAMES[sub.kind]} of {_accounts(sub)} {_when(sub)} {sub.timezone} time"


def _line(sub: Sub) -> str:
    return f"{_capital(KIND_NAMES[sub.kind])}: {_sentence(sub)}, set by {sub.created_by}"


def _changes(before: Sub, after: Sub) -> list[str]:
    pairs = [
        ("Accounts", _accounts(before), _accounts(after)),
        ("When", _when(before), _when(after)),
        ("Time zone", before.timezone, after.timezone),
    ]
    if after.kind == "alerts":
        pairs.append(("Quiet hours", _quiet(before) or "none", _quiet(after) or "none"))
    return [f"{label}: {old} → {new}" for label, old, new in pairs if old != new]


def _accounts(sub: Sub) -> str:
    if sub.scope == "book":
        return f"the book of {_owner(sub)}"
    if sub.scope == "segment":
        return f"the accounts in the segment {sub.scope_value}"
    if sub.scope == "tier":
        return f"the accounts in the {sub.scope_value} tier"
    return "every account"


def _owner(sub: Sub) -> str:
    names = [h for h in sub.owner_handles if h != sub.scope_value and "@" not in h]
    emails = [h for h in sub.owner_handles if "@" in h]
    return (names or emails or [sub.scope_value or "its owner"])[0]


def _when(sub: Sub) -> str:
    if sub.kind == "alerts":
        return "as they happen"
    return f"{'on weekdays' if sub.weekdays_only else 'every day'} at {sub.at_time}"


def _quiet(sub: Sub) -> str | None:
    if not (sub.quiet_start and sub.quiet_end):
        return None
    return f"from {sub.quiet_start} to {sub.quiet_end}"


def _offset(zone: str, now: datetime) -> str:
    raw = now.astimezone(ZoneInfo(zone)).strftime("%z")
    return f"UTC{raw[:3]}:{raw[3:]}"


def _next_post(sub: Sub, now: datetime) -> str:
    when = next_due(sub, now)
    local = when.astimezone(ZoneInfo(sub.timezone))
    return f"{local:%a %d %b %H:%M} {sub.timezone} ({when.astimezone(UTC):%H:%M} UTC)"


def _where(request: CommandRequest) -> str:
    return _where_channel(request.channel, direct=request.direct)


def _where_channel(channel: str, *, direct: bool) -> str:
    if direct:
        return "your direct message with Steward"
    return f"this channel ({channel})"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _s(n: int) -> str:
    return "" if n == 1 else "s"
