"""Personal follows: ``/steward follow <account>``, ``unfollow <account>`` and ``follows``.

A person's follows live on their own alerts subscription, posted to them directly
(``user:<their id>``: the Slack DM or the Teams personal chat with Steward), with the
same cooldown, quiet hours and exactly-once outbox as a channel's alerts. Following
an account adds it to that subscription whatever its scope ("alerts my book" set in
the direct message keeps its book); a subscription that only followed accounts goes
away with the last one.
"""

from __future__ import annotations

from core.messages import Card, Section
from handlers.chat.context import CommandRequest, Context
from handlers.chat.lookup import account_names
from handlers.chat.matching import match_account
from handlers.chat.subscription_grammar import SubscriptionError, parse_zone
from storage import subscriptions as store
from storage.db import read_connection, write_transaction

FOLLOW_USAGE = "/steward follow <account> · /steward unfollow <account> · /steward follows"


def personal_channel(request: CommandRequest) -> str:
    """Where a person's own alerts go: to them directly, wherever they typed."""
    return f"user:{request.user.id}"


def follow_card(request: CommandRequest, ctx: Context) -> Card:
    """Follow an account: its alerts come to the asker directly."""
    return _change(request, ctx, follow=True)


def unfollow_card(request: CommandRequest, ctx: Context) -> Card:
    """Stop following an account."""
    return _change(request, ctx, follow=False)


def follows_card(request: CommandRequest, ctx: Context) -> Card:
    """The accounts the asker follows."""
    if not request.platform or not request.user.id:
        return _problem("Follows belong to a person on Slack or Teams.")
    with read_connection(ctx.engine) as conn:
        sub = store.get_subscription(
            conn, platform=request.platform, channel=personal_channel(request), kind="alerts"
        )
    names = account_names(ctx.engine).names
    followed = [names.get(a, a) for a in (sub.account_ids if sub else ())]
    if not followed:
        return Card(
            title="You follow no accounts",
            summary="You follow no accounts yet.",
            sections=(Section(items=(FOLLOW_USAGE,)),),
        )
    return Card(
        title=f"You follow {len(followed)} account{'' if len(followed) == 1 else 's'}",
        summary="Their alerts come to you directly, as they happen.",
        sections=(Section(items=tuple(sorted(followed, key=str.casefold))),),
        footer="Stop one with /steward unfollow <account>.",
    )


def _change(request: CommandRequest, ctx: Context, *, follow: bool) -> Card:
    verb = "follow" if follow else "unfollow"
    if not request.platform or not request.user.id:
        return _problem("Follows belong to a person on Slack or Teams.")
    if not request.text.strip():
        return _problem(f"Name an account: /steward {verb} acme.")
    index = account_names(ctx.engine)
    match = match_account(request.text, index)
    if not match.found:
        closest = ", ".join(name for _, name in match.choices) or "none"
        return _problem(f"No account matches “{match.query}” exactly. Closest names: {closest}.")
    account_id = match.account_id
    assert account_id is not None
    if not ctx.visible(account_id):
        return _problem(f"No account matches “{match.query}”.")
    name = index.names.get(account_id, account_id)
    channel = personal_channel(request)
    with write_transaction(ctx.engine) as conn:
        current = store.get_subscription(
            conn, platform=request.platform, channel=channel, kind="alerts"
        )
        ids = list(current.account_ids if current else ())
        if follow and account_id in ids:
            return Card(title=f"Already following {name}", summary=f"You already follow {name}.")
        if not follow and account_id not in ids:
            return Card(title=f"Not following {name}", summary=f"You do not follow {name}.")
        ids = [*ids, account_id] if follow else [i for i in ids if i != account_id]
        store.set_follows(
            conn,
            platform=request.platform,
            channel=channel,
            created_by=request.user.id,
            account_ids=ids,
            now=ctx.now,
            timezone=_zone(request.user.tz),
        )
    if follow:
        return Card(
            title=f"Following {name}",
            summary=f"Alerts about {name} now come to you directly, as they happen.",
            footer="Stop with /steward unfollow " + name + ".",
            tone="good",
        )
    return Card(title=f"Unfollowed {name}", summary=f"You no longer get alerts about {name}.")


def _zone(tz: str | None) -> str:
    try:
        return parse_zone(tz) if tz else "UTC"
    except SubscriptionError:
        return "UTC"


def _problem(text: str) -> Card:
    return Card(
        title="Follows not changed",
        summary=text,
        sections=(Section(title="How to type it", items=(FOLLOW_USAGE,)),),
        tone="warning",
    )
