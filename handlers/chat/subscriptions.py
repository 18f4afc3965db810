"""Subscriptions set from a chat: ``/steward subscribe``, ``unsubscribe`` and ``subscriptions``.

The typed words are parsed by :mod:`handlers.chat.subscription_grammar`; this module checks
them against the place and the accounts, stores them and answers with a card.

A subscription posts to the conversation it was typed in. A channel has one
subscription of each kind; subscribing again replaces it with exactly what was typed
(left-out options take their defaults: every account, 08:30, the asker's time zone,
every day, no quiet hours) and the answer lists what changed. In a direct message with
Steward only ``digest my book`` and ``alerts my book`` may be subscribed (the scope
defaults to "my book" there); they post to that direct message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.messages import Card, Fact, Section
from digests.schedule import next_due
from handlers.chat.context import CommandRequest, Context, typed
from handlers.chat.subscription_grammar import (
    SUBSCRIBE_USAGE,
    UNSUBSCRIBE_USAGE,
    SubscribeSpec,
    SubscriptionError,
    join_words,
    parse_subscribe,
    parse_unsubscribe,
    parse_zone,
)
from storage import subscriptions as store
from storage.db import read_connection, write_transaction
from storage.subscriptions import Sub

DEFAULT_AT = "08:30"
KIND_NAMES = {"digest": "daily digest", "alerts": "alerts", "manager": "manager digest"}
MAX_SEGMENTS_SHOWN = 12


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
        f"No account is in the segment “{typed}”: the segments are {join_words(shown)}{more}."
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
        kind = parse_unsubscribe(request.text)
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
    names = join_words([KIND_NAMES[s.kind] for s in gone])
    return Card(
        title=f"Unsubscribed: {names}",
        summary=f"{_capital(where)} no longer gets the {names}.",
        footer="Subscribe again any time: " + SUBSCRIBE_USAGE,
    )


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
        # the reason in the body too: Slack and Teams show a card's sections, not its summary
        sections=(Section(text=exc.message), Section(title="How to type it", items=(exc.usage,))),
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
        footer=f"Stop it with {typed('/steward unsubscribe ' + new.kind, new.platform)}.",
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
    by = "" if _platform_id(sub.created_by) else f", set by {sub.created_by}"
    return f"{_capital(KIND_NAMES[sub.kind])}: {_sentence(sub)}{by}"


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
    """The owner as people know them: a name, else an email, never a platform's id."""
    handles = [h for h in sub.owner_handles if h != sub.scope_value]
    names = [h for h in handles if "@" not in h and not _platform_id(h)]
    emails = [h for h in sub.owner_handles if "@" in h]
    known = names or emails or [h for h in [sub.scope_value] if h and not _platform_id(h)]
    return known[0] if known else "the person who subscribed"


# Slack user ids (U0123ABC), Teams user ids (29:1abc...) and Entra object ids (GUIDs).
_PLATFORM_ID = re.compile(
    r"[UW][A-Z0-9]{6,}|\d+:\S+|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
)


def _platform_id(handle: str) -> bool:
    return _PLATFORM_ID.fullmatch(handle) is not None


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
    """Where a subscription posts, as the person reading it in that place would say it (a
    channel's id, C123 or 19:...@thread.tacv2, means nothing to them)."""
    if direct:
        return "your direct message with Steward"
    return "this channel"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _s(n: int) -> str:
    return "" if n == 1 else "s"
