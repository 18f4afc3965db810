"""Counts by tier and band, and the week's biggest health movers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from signals.model import Snapshot
from signals.portfolio.periods import BANDS, MIN_MOVE, MOVERS, n_accounts
from signals.tiers import ORDER as TIER_ORDER


def counts_by_tier(snapshots: Collection[Snapshot]) -> dict[str, int]:
    """Accounts per tier, strategic first (tiers with no account included as 0)."""
    return _ordered(Counter(s.tier for s in snapshots), tuple(reversed(TIER_ORDER)))


def counts_by_band(snapshots: Collection[Snapshot]) -> dict[str, int]:
    """Accounts per health band, healthy first (bands with no account included as 0)."""
    return _ordered(Counter(s.band for s in snapshots), BANDS)


def _ordered(counts: Counter[str], order: Sequence[str]) -> dict[str, int]:
    out = {key: counts.get(key, 0) for key in order}
    out.update((key, n) for key, n in sorted(counts.items()) if key not in out)
    return out


@dataclass(frozen=True, slots=True)
class Move:
    """One account's health change over the week, with what moved it."""

    account_id: str
    before: float
    after: float
    why: str | None

    @property
    def change(self) -> float:
        """Points gained (negative: lost)."""
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class WeekMovers:
    """The largest health rises and falls between two days' snapshots a week apart.

    ``up`` is the largest rise first, ``down`` the largest fall first. ``compared`` is how
    many accounts were scored on both days; ``explanation`` says how, or why none.
    """

    up: tuple[Move, ...]
    down: tuple[Move, ...]
    compared: int
    explanation: str

    @property
    def available(self) -> bool:
        """True when any account could be compared."""
        return self.compared > 0


def week_movers(
    today: Mapping[str, Snapshot],
    week_ago: Mapping[str, Snapshot],
    *,
    n: int = MOVERS,
    minimum: float = MIN_MOVE,
) -> WeekMovers:
    """The ``n`` largest rises and falls of the health score over the week.

    Only accounts scored on both days count, and only changes of at least ``minimum``
    points; ties go by account id. ``why`` is the first of the snapshot's recorded
    movers (detail "movers": the components that moved the score), when present.
    """
    both = sorted(set(today) & set(week_ago))
    if not both:
        return WeekMovers((), (), 0, "No account was scored both today and a week earlier.")
    moves = [_move(today[a], week_ago[a]) for a in both]
    up = sorted((m for m in moves if m.change >= minimum), key=lambda m: (-m.change, m.account_id))
    down = sorted(
        (m for m in moves if m.change <= -minimum), key=lambda m: (m.change, m.account_id)
    )
    explanation = (
        f"Health score changes over 7 days of the {n_accounts(len(both))} scored on both days: "
        f"{len(up)} rose and {len(down)} fell by {minimum:.0f} point{'' if minimum == 1 else 's'} "
        "or more."
    )
    return WeekMovers(tuple(up[:n]), tuple(down[:n]), len(both), explanation)


def _move(now: Snapshot, before: Snapshot) -> Move:
    recorded = now.explained("movers") or []
    why = str(recorded[0]) if recorded else None
    return Move(now.account_id, before.score, now.score, why)
