"""Button clicks, platform-neutral: pick an account, details, share, snooze."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.messages import Card
from handlers import cards
from handlers.commands import (
    CommandRequest,
    Context,
    Person,
    from_button,
    handle,
    without_share,
)
from handlers.lookup import account_view
from storage import replies
from storage.db import read_connection, write_transaction
from storage.repository import get_account

Visibility = Literal["ephemeral", "channel"]
MAX_SNOOZE_DAYS = 30


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A click: which action, the value the button carried, who clicked, on which platform."""

    action: str
    value: str
    user: Person
    platform: str


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
    action = request.action
    if action == "pick":
        return ActionResult(
            handle(from_button(request.value, request.user), ctx), replace_original=True
        )
    if action == "details":
        return _details(request, ctx)
    if action == "share":
        return _share(request, ctx)
    if action == "snooze":
        return _snooze(request, ctx)
    return ActionResult(Card(title="Unknown button", summary=f"Steward has no action {action!r}."))


def _details(request: ActionRequest, ctx: Context) -> ActionResult:
    account_id = str(json.loads(request.value)["a"])
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


def _snooze(request: ActionRequest, ctx: Context) -> ActionResult:
    data = json.loads(request.value)
    account_id = str(data["a"])
    days = min(int(data.get("p") or 7), MAX_SNOOZE_DAYS)
    with read_connection(ctx.engine) as conn:
        account = get_account(conn, account_id)
    if account is None:
        return ActionResult(_gone(account_id))
    until = ctx.now + timedelta(days=days)
    with write_transaction(ctx.engine) as conn:
        replies.add_snooze(
            conn,
            account_id=account_id,
            until=until,
            by=request.user.id,
            platform=request.platform,
            now=ctx.now,
        )
    text = (
        f"Alerts for {account['name']} are snoozed for {days} days, "
        f"until {until:%Y-%m-%d %H:%M} UTC."
    )
    return ActionResult(Card(title="Alerts snoozed", summary=text))


def _gone(account_id: str) -> Card:
    return Card(title="Account not found", summary=f"The account {account_id} no longer exists.")
