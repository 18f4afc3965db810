"""Who may see account data where: the same rules for every platform.

The platform adapter finds out the facts (is the conversation shared with another
organisation? is the asker a guest?) and this module decides. Answers are private to
the asker by default; sharing to the conversation is a further, explicit step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

PlaceKind = Literal["channel", "private", "dm", "group_dm", "unknown"]


@dataclass(frozen=True, slots=True)
class Place:
    """Where a command was typed.

    ``external`` is True when anyone who can read the conversation is not a full member
    of Steward's own workspace or tenant: it is shared with another organisation (Slack
    Connect, a Teams chat with federated users), or a member is a guest, an anonymous
    user or from another team. None when the platform would not say who is there (the
    bot is not a member, an error, a missing scope): never treated as internal.
    """

    id: str
    kind: PlaceKind
    external: bool | None


@dataclass(frozen=True, slots=True)
class Asker:
    """Who typed it: ``external`` for guests and members of another organisation."""

    id: str
    external: bool
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Policy:
    """The admin's settings.

    Args:
        shared_channels: conversations shared with other organisations where account
            data may be shown anyway (an explicit allow-list).
        channels: when not empty, the only conversations (besides a direct message with
            Steward) where commands answer.
        user_groups: when not empty, only members of these groups get answers.
    """

    shared_channels: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to answer, and whether the answer may be shared to the conversation."""

    allowed: bool
    reason: str = ""
    may_share: bool = True
    notes: tuple[str, ...] = field(default=())


def decide(place: Place, asker: Asker, policy: Policy, *, bot_dm: bool = False) -> Decision:
    """Decide whether ``asker`` may see account data in ``place``; refusals say why."""
    allowed_shared = place.id in policy.shared_channels
    if place.external and not allowed_shared:
        return _refuse(
            "Steward does not show account data in conversations with guests or members of "
            "other organisations; an admin can allow this one."
        )
    if asker.external and not allowed_shared:
        return _refuse("Account data is only shown to members of this workspace, not to guests.")
    if policy.channels and not bot_dm and place.id not in policy.channels:
        return _refuse(
            "Steward answers only in the channels an admin chose; try a direct message "
            "with Steward or one of those channels."
        )
    if policy.user_groups and not (asker.groups & policy.user_groups):
        return _refuse("Steward answers only members of the user groups an admin chose.")
    if place.external is None:
        return Decision(
            True,
            may_share=False,
            notes=("Sharing is off here: Steward cannot see who is in this conversation.",),
        )
    return Decision(True)


def _refuse(reason: str) -> Decision:
    return Decision(False, reason=reason, may_share=False)


def policy_from(
    shared_channels: Iterable[str], channels: Iterable[str], user_groups: Iterable[str]
) -> Policy:
    """Build a policy from settings' lists (blank entries ignored)."""
    return Policy(
        shared_channels=frozenset(c for c in shared_channels if c),
        channels=frozenset(c for c in channels if c),
        user_groups=frozenset(g for g in user_groups if g),
    )
