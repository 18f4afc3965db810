"""Adoption and breadth: active users, stickiness, features and teams, and what is new."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from signals.model import DimensionActivity
from signals.series import days_back, span

NEW_AFTER_DAYS = 14  # a feature is "new" only when the account was active this long before


@dataclass(frozen=True, slots=True)
class Adoption:
    """Who and what is active: the recent window against the window before it."""

    window_days: int
    active_users: int
    previous_users: int
    daily_active_users: float
    features: tuple[str, ...]
    previous_features: int
    teams: tuple[str, ...]
    previous_teams: int
    new_features: tuple[tuple[str, date], ...]
    new_teams: tuple[tuple[str, date], ...]
    has_users: bool
    has_breadth: bool
    has_previous: bool  # the account was active before this window: there is a "was"

    @property
    def stickiness(self) -> float | None:
        """DAU/MAU: average daily active users over users active in the window."""
        if not self.active_users:
            return None
        return self.daily_active_users / self.active_users

    @property
    def breadth_trend(self) -> float | None:
        """Mean log ratio of users, features and teams now against the window before."""
        pairs = []
        if self.has_users:
            pairs.append((self.active_users, self.previous_users))
        if self.has_breadth:
            pairs.append((len(self.features), self.previous_features))
            pairs.append((len(self.teams), self.previous_teams))
        pairs = [p for p in pairs if p[0] or p[1]]
        if not pairs or not self.has_previous:
            return None
        return sum(math.log((a + 1) / (b + 1)) for a, b in pairs) / len(pairs)

    def explain(self) -> str:
        """Breadth in one sentence."""
        parts = []
        if self.has_users:
            parts.append(
                f"{self.active_users} active users (was {self.previous_users})"
                + (f", DAU/MAU {self.stickiness:.0%}" if self.stickiness is not None else "")
            )
        if self.has_breadth:
            parts.append(f"{len(self.features)} features (was {self.previous_features})")
            parts.append(f"{len(self.teams)} teams (was {self.previous_teams})")
        if self.new_features:
            parts.append("new: " + ", ".join(name for name, _ in self.new_features))
        if not parts:
            return "No user, feature or team detail in the usage events."
        return f"Last {self.window_days} days: " + "; ".join(parts) + "."


def adoption(dimensions: Sequence[DimensionActivity], as_of: date, window_days: int) -> Adoption:
    """Compute breadth for the window ending on as_of against the window before it."""
    first = days_back(as_of, window_days)
    prev_last = first - timedelta(days=1)
    prev_first = days_back(prev_last, window_days)
    by_kind: dict[str, list[DimensionActivity]] = {"user": [], "feature": [], "team": []}
    for dim in dimensions:
        if dim.days and dim.days[0] <= as_of and dim.dimension in by_kind:
            by_kind[dim.dimension].append(dim)
    account_start = min((d.days[0] for ds in by_kind.values() for d in ds), default=None)

    def active(kind: str, lo: date, hi: date) -> list[DimensionActivity]:
        return [d for d in by_kind[kind] if _active_days(d, lo, hi)]

    users = active("user", first, as_of)
    observed = window_days
    if account_start is not None and account_start > first:
        observed = (as_of - account_start).days + 1
    return Adoption(
        window_days=window_days,
        active_users=len(users),
        previous_users=len(active("user", prev_first, prev_last)),
        daily_active_users=sum(_active_days(u, first, as_of) for u in users) / observed,
        features=tuple(sorted(d.value for d in active("feature", first, as_of))),
        previous_features=len(active("feature", prev_first, prev_last)),
        teams=tuple(sorted(d.value for d in active("team", first, as_of))),
        previous_teams=len(active("team", prev_first, prev_last)),
        new_features=_new(by_kind["feature"], first, account_start),
        new_teams=_new(by_kind["team"], first, account_start),
        has_users=bool(by_kind["user"]),
        has_breadth=bool(by_kind["feature"] or by_kind["team"]),
        has_previous=account_start is not None and account_start < first,
    )


def _active_days(dim: DimensionActivity, first: date, last: date) -> int:
    lo, hi = span(dim.days, first, last)
    return hi - lo


def _new(
    dims: Sequence[DimensionActivity], since: date, account_start: date | None
) -> tuple[tuple[str, date], ...]:
    """Features or teams first seen since `since`, in an account already active before."""
    if account_start is None:
        return ()
    found = [
        (d.value, d.days[0])
        for d in dims
        if d.days[0] >= since and (d.days[0] - account_start).days >= NEW_AFTER_DAYS
    ]
    return tuple(sorted(found, key=lambda item: (item[1], item[0])))
