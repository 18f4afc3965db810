"""An account's users, in teams and using features: who comes and goes is its breadth.

Before a churn, users leave and the rest narrow to the core feature; before an
expansion, a new team arrives (a pilot weeks ahead when it warns). Some steady accounts
lose users in a reorganisation and carry on: a false alarm.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from demo.book.catalog import FEATURES, TEAMS, Segment
from demo.book.shapes import Curve


@dataclass(slots=True)
class User:
    id: str
    team: str
    features: tuple[str, ...]
    metrics: tuple[int, ...]
    weight: float
    join: int
    leave: int
    new_stream: bool = False  # carries the new use case's volume


@dataclass(slots=True)
class People:
    users: list[User]  # by id; u1 is the champion, who stays as long as the account does
    core_users: list[User]  # those there from the start (or the go-live)
    core_feature: str
    new_feature: str | None = None
    warned: bool = False
    warning_day: int | None = None
    narrow_day: int | None = None
    success_drop_day: int | None = None
    success_drop: float = 0.0


@dataclass(slots=True)
class _Pool:
    """The users drawn so far, and how to draw another."""

    rng: random.Random
    used: list[int]  # the account's metrics
    teams: list[str]
    features: list[str]  # the core feature first
    never: int  # the leave day of a user who stays
    users: list[User] = field(default_factory=list)

    def add(self, team: str, feats: tuple[str, ...], join: int, *, stream: bool = False) -> User:
        rng = self.rng
        mets = tuple(i for i in self.used if i == 0 or rng.random() < 0.5)
        weight = math.exp(rng.gauss(0.0, 0.6))
        user = User(f"u{len(self.users) + 1}", team, feats, mets, weight, join, self.never, stream)
        self.users.append(user)
        return user

    def some_features(self) -> tuple[str, ...]:
        """The core feature, and each of the others with even odds."""
        others = [f for f in self.features[1:] if self.rng.random() < 0.5]
        return (self.features[0], *others)


def draw_people(
    rng: random.Random,
    *,
    shape: str,
    curve: Curve,
    segment: Segment,
    used: list[int],
    days: int,
) -> People:
    """A pool of users in teams, using features; who comes and goes is the breadth."""
    pick = rng.randint
    teams = rng.sample(TEAMS, pick(*segment.teams))
    features = rng.sample(FEATURES, pick(*segment.features))
    pool = _Pool(rng, used, teams, features, never=days + 1)
    core_users = _core_users(pool, curve, segment, days)
    people = People(users=pool.users, core_users=core_users, core_feature=features[0])
    c = curve.change
    if shape in ("declining", "dormant") and c is not None:
        _churn_signs(people, rng, shape, curve, c)
    elif shape in ("growing", "early_exhaust", "new_use_case") and c is not None:
        _expansion_signs(people, pool, shape, curve, c)
    elif shape in ("steady", "seasonal", "under_use", "spiky") and rng.random() < 0.1:
        reorg = pick(0, days - 1)  # a false alarm: a reorganisation, usage carries on
        fraction = rng.uniform(0.3, 0.5)
        for user in core_users[1:]:
            if rng.random() < fraction:
                user.leave = min(user.leave, reorg)
    return people


def _core_users(pool: _Pool, curve: Curve, segment: Segment, days: int) -> list[User]:
    """The users there from the start (or the go-live); some seats change hands later."""
    pick = pool.rng.randint
    first_join = -1 if curve.sign is None else curve.sign
    for k in range(pick(*segment.users)):
        join = first_join
        if curve.first_value is not None and k > 0:  # slow starters' users arrive with value
            join = pick(curve.first_value - 3, curve.first_value + max(curve.ramp, 3))
        pool.add(pool.teams[k % len(pool.teams)], pool.some_features(), join)
    core_users = list(pool.users)
    for user in core_users[1:]:  # seat turnover: someone leaves, someone else takes over
        if pool.rng.random() < 0.12 and user.join < days - 1:
            gone = pick(max(0, user.join + 1), days - 1)
            user.leave = gone
            pool.add(user.team, user.features, gone + pick(3, 30))
    return core_users


def _churn_signs(people: People, rng: random.Random, shape: str, curve: Curve, c: int) -> None:
    """Before a churn: most warn, users leave early and the rest narrow; then they go."""
    pick = rng.randint
    others = people.core_users[1:]
    people.warned = rng.random() < 0.75
    ramp_end = c + (curve.ramp if shape == "declining" else 0)
    if people.warned:
        warning_day = people.warning_day = max(0, c - curve.lead)
        people.narrow_day = warning_day + curve.lead // 2
        people.success_drop_day, people.success_drop = warning_day, rng.uniform(0.08, 0.2)
        fraction = rng.uniform(0.45, 0.7)
        staying = []
        for user in others:
            if rng.random() < fraction:
                user.leave = min(user.leave, pick(warning_day, max(warning_day, c)))
            else:
                staying.append(user)
        others = staying
    if shape == "dormant":
        for user in people.users:
            user.leave = min(user.leave, c)
    else:
        for user in others:
            if rng.random() < 0.85:
                user.leave = min(user.leave, pick(c, max(c, ramp_end)))


def _expansion_signs(people: People, pool: _Pool, shape: str, curve: Curve, c: int) -> None:
    """Before an expansion: a new team (with a new feature for a new use case) joins."""
    rng = pool.rng
    pick = rng.randint
    warned = people.warned = rng.random() < 0.85
    spare_teams = [team for team in TEAMS if team not in pool.teams]
    new_team = rng.choice(spare_teams)
    if shape == "new_use_case":
        people.new_feature = rng.choice([f for f in FEATURES if f not in pool.features])
    new_feature = people.new_feature
    feats = (new_feature,) if new_feature else pool.some_features()
    count = max(2, round(len(people.core_users) * rng.uniform(0.4, 0.9)))
    for k in range(count):
        if warned and k < 2:  # a pilot: the new team tries it out weeks ahead
            join = pick(max(0, c - curve.lead), max(0, c - max(3, curve.lead // 2)))
        else:
            join = pick(c, c + max(curve.ramp, 1))
        pool.add(new_team, feats, join, stream=new_feature is not None)
    if warned:
        people.warning_day = max(0, c - curve.lead)
