"""Button clicks, platform-neutral: pick an account, details, share; on alerts and digests,
acknowledge, snooze and assign, stored with who and when and shown on the message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from core.messages import CHOICE, ButtonValue, Card, Section, UnreadableButton, card_from_dict
from handlers.chat import cards
from handlers.chat.commands import from_button, handle, without_share
from handlers.chat.context import CommandRequest, Context, Person
from handlers.chat.lookup import account_view
from storage import alert_states, outbox, replies
from storage.db import read_connection, write_transaction
from storage.repository import get_account

Visibility = Literal["ephemeral", "channel"]
MAX_SNOOZE_DAYS = 30
TAKE_ACTIONS = ("ack", "snooze", "assign")


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A click: which action, the value the button carried, who clicked, on which platform."""

    action: str
    value: str
    user: Person
    platform: str
    message: tuple[str, str] | None = None  # (channel, platform message id) of a pushed message


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What to show: a card, to whom, and whether it replaces the message clicked on."""

    card: Card
    visibility: Visibility = "ephemeral"
    replace_original: bool = False
    delete_original: bool = False
    shared_by: str | None = None


def handle_action(request: ActionRequest, ctx: Context) -> ActionResult:
    """Carry out a click; a click on something that no longer exists says so."""
    try:
        return _dispatch(request, ctx)
    except UnreadableButton:
        summary = "Steward cannot read this button's value: it did not write it."
        return ActionResult(Card(title="Unknown button", summary=summary))


def _dispatch(request: ActionRequest, ctx: Context) -> ActionResult:
    action = request.action
    if action == CHOICE:
        return ActionResult(
            handle(from_button(request.value, request.user), ctx), replace_original=True
        )
    if action == "details":
        return _details(request, ctx)
    if action == "share":
        return _share(request, ctx)
    if action in TAKE_ACTIONS:
        return _take(request, ctx)
    return ActionResult(Card(title="Unknown button", summary=f"Steward has no action {action!r}."))


def _details(request: ActionRequest, ctx: Context) -> ActionResult:
    account_id = ButtonValue.decode(request.value).account_id
    view = account_view(ctx.engine, account_id, today=ctx.today, config=ctx.config)
    if view is None:
        return ActionResult(_gone(account_id))
    return ActionResult(cards.details_card(view))


def _share(request: ActionRequest, ctx: Context) -> ActionResult:
    if not ctx.may_share:
        card = Card(
            title="Not shared",
            summary="Steward cannot share account data in this conversation.",
        )
        return ActionResult(card)
    command: CommandRequest = from_button(request.value, request.user)
    card = handle(command, ctx)
    card = without_share(card)
    return ActionResult(card, visibility="channel", delete_original=True, shared_by=request.user.id)


def _take(request: ActionRequest, ctx: Context) -> ActionResult:
    """Acknowledge, snooze or assign an account's alerts; update the message clicked on."""
    button = ButtonValue.decode(request.value)
    account_id = button.account_id
    with read_connection(ctx.engine) as conn:
        account = get_account(conn, account_id)
    if account is None:
        return ActionResult(_gone(account_id))
    action, user, now = request.action, request.user, ctx.now
    days = min(int(button.period or 7), MAX_SNOOZE_DAYS) if action == "snooze" else None
    with write_transaction(ctx.engine) as conn:
        message = None
        if request.message is not None:
            channel, platform_id = request.message
            message = outbox.by_platform_id(conn, channel=channel, platform_id=platform_id)
        if days is not None:
            until = now + timedelta(days=days)
            replies.add_snooze(
                conn,
                account_id=account_id,
                until=until,
                by=user.id,
                platform=request.platform,
                now=now,
            )
        else:
            alert_states.take(
                conn,
                account_id=account_id,
                by=user.name or user.id,
                now=now,
                acknowledge=action == "ack",
                assign=action == "assign",
            )
        outbox.add_click(
            conn,
            outbox_id=message.id if message else None,
            account_id=account_id,
            action=action,
            detail=f"{days}d" if days else None,
            by=user.id,
            by_name=user.name,
            platform=request.platform,
            now=now,
        )
        clicks = outbox.clicks(conn, message.id) if message else []
    if message is not None:
        card = with_clicks(card_from_dict(message.card), clicks)
        return ActionResult(card, visibility="channel", replace_original=True)
    return ActionResult(_confirmation(action, str(account["name"]), days, now))


def with_clicks(card: Card, clicks: Sequence[outbox.Click]) -> Card:
    """A pushed message as it stands after the clicks on it: who did what, and when."""
    if not clicks:
        return card
    lines = tuple(_click_line(c) for c in clicks)
    acknowledged = any(c.action == "ack" for c in clicks)
    buttons = tuple(b for b in card.buttons if not (acknowledged and b.action == "ack"))
    return replace(card, sections=(*card.sections, Section(items=lines)), buttons=buttons)


def _click_line(click: outbox.Click) -> str:
    who = click.by_name or click.by
    when = f"{click.at:%Y-%m-%d %H:%M} UTC"
    if click.action == "ack":
        return f"Acknowledged by {who}, {when}"
    if click.action == "assign":
        return f"Assigned to {who}, {when}"
    days = (click.detail or "").removesuffix("d")
    return f"Snoozed for {days} day{'s' if days != '1' else ''} by {who}, {when}"


def _confirmation(action: str, name: str, days: int | None, now: datetime) -> Card:
    if days is not None:
        until = now + timedelta(days=days)
        text = f"Alerts for {name} are snoozed for {days} days, until {until:%Y-%m-%d %H:%M} UTC."
        return Card(title="Alerts snoozed", summary=text)
    if action == "ack":
        return Card(title="Acknowledged", summary=f"You acknowledged the open alerts of {name}.")
    return Card(title="Assigned to you", summary=f"The open alerts of {name} are yours now.")


def _gone(account_id: str) -> Card:
    return Card(title="Account not found", summary=f"The account {account_id} no longer exists.")
