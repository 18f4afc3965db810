"""Slack's App Home tab: Steward publishes each person's home (views.publish) when they
open it, and again when their alerts change (an alert sent about an account they own or
follow). Only a full member of the workspace gets account data there, as everywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from bot.adapters.slack.facts import SlackFacts, Unverified
from bot.adapters.slack.render import to_blocks
from core.messages import Card
from handlers.chat.home import home_cards

log = logging.getLogger(__name__)

MAX_HOME_BLOCKS = 100  # Slack's limit for a view
DIVIDER = {"type": "divider"}


def home_view(cards: list[Card]) -> dict[str, Any]:
    """A home view of the cards, one after another, within Slack's 100 blocks: the cards
    that do not fit are left out (from the end, so the book always shows)."""
    blocks: list[dict[str, Any]] = []
    for card in cards:
        more = [*([DIVIDER] if blocks else []), *to_blocks(card)]
        if len(blocks) + len(more) > MAX_HOME_BLOCKS:
            continue  # a later, smaller card (subscriptions) may still fit
        blocks.extend(more)
    return {"type": "home", "blocks": blocks}


def closed_home(reason: str) -> dict[str, Any]:
    return home_view([Card(title="Steward", summary=reason)])


async def compose_home(
    engine: Engine, facts: SlackFacts, user_id: str, today: date, groups: Collection[str] = ()
) -> dict[str, Any]:
    """The home view for this person, or a closed one saying why it shows no data."""
    try:
        asker, person = await facts.asker(user_id, groups)
    except Unverified:
        return closed_home("Steward could not confirm with Slack who you are, so it shows no data.")
    if asker.external:
        return closed_home("Steward shows account data to full members of this workspace only.")
    if groups and not (asker.groups & frozenset(groups)):
        return closed_home("Steward answers the members of the user groups its admins chose.")
    cards = await asyncio.to_thread(home_cards, engine, person, today)
    return home_view(cards)
