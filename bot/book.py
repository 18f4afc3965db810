"""A synthetic book of customers with known outcomes, for tests, demos and signal backtests.

``generate_book(seed=7, start=date(2025, 1, 1))`` draws 300 accounts. Each gets one usage
*shape* (steady, growing, seasonal, declining, dormant, spiky, early_exhaust, under_use,
new_use_case, slow_start), a segment with its volumes, a commit contract sized to its
expected spend, support tickets, and a :class:`Truth` saying what really happens to it
and when: whether and on which day it churns (usage stops or its noise-free level falls
to ``CHURN_LEVEL`` of its baseline or below) or expands (the level reaches
``EXPAND_LEVEL``), when its commit runs out, and when its leading indicators start
(fewer active users and features, urgent tickets with poor CSAT before a churn; new
users and a new team before an expansion). Not every churner warns, and not every bad
ticket or lost user means churn: the noise is part of the book.

``iter_events(book)`` streams the usage events in time order, one day at a time, and
``book_payload_batches(book)`` everything in ingestion order. Every payload has the shape
the ingestion API accepts (``handlers.schemas``).

Days are the account's local calendar days, ``t`` days after ``start``; timestamps carry
the account's UTC offset. Everything is drawn from ``random.Random`` instances seeded
from text that names the book's seed and the account, so one seed always gives the same
book, and whether an account's events are generated does not change another's. A book
meant for ingestion must end in the past: the API refuses times in the future.
"""

from __future__ import annotations

import math
import random
import re
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from operator import itemgetter
from typing import Any, Literal
from zoneinfo import ZoneInfo

SHAPES: tuple[str, ...] = (
    "steady",
    "growing",
    "seasonal",
    "declining",
    "dormant",
    "spiky",
    "early_exhaust",
    "under_use",
    "new_use_case",
    "slow_start",
)
SHAPE_MIX: Mapping[str, float] = {
    "steady": 0.30,
    "growing": 0.12,
    "seasonal": 0.10,
    "declining": 0.09,
    "dormant": 0.05,
    "spiky": 0.05,
    "early_exhaust": 0.06,
    "under_use": 0.10,
    "new_use_case": 0.06,
    "slow_start": 0.07,
}
DEFAULT_METRICS: tuple[str, ...] = ("tokens", "api_calls", "resolutions")
LIST_PRICES: Mapping[str, float] = {"tokens": 0.00001, "api_calls": 0.002, "resolutions": 0.9}
DEFAULT_PRICE = 0.01  # list price per unit of a metric not in LIST_PRICES
SUCCESS_METRICS = frozenset({"resolutions"})  # events of these metrics carry `success`
CHURN_LEVEL = 0.4  # churned: usage stopped, or fell to 40 % of its baseline or below
EXPAND_LEVEL = 1.5  # expanded: usage reached 150 % of its baseline
TERM_DAYS = 365  # every contract is a one-year commit
DEFAULT_EVENTS_PER_DAY_CAP = 60

FEATURES = ("chat", "search", "summarize", "voice", "translate", "classify", "extract")
TEAMS = (
    "support",
    "sales",
    "engineering",
    "marketing",
    "operations",
    "finance",
    "data",
    "legal",
    "success",
    "product",
)
CSMS = (
    "maya.chen@example.com",
    "jonas.weber@example.com",
    "aisha.okafor@example.com",
    "lucas.martin@example.com",
    "sofia.rossi@example.com",
    "daniel.kim@example.com",
)
AES = (
    "olivia.hart@example.com",
    "ravi.patel@example.com",
    "emma.larsen@example.com",
    "marco.silva@example.com",
)
TIMEZONES: tuple[tuple[str, float], ...] = (
    ("America/New_York", 0.24),
    ("America/Chicago", 0.10),
    ("America/Los_Angeles", 0.14),
    ("America/Sao_Paulo", 0.04),
    ("Europe/London", 0.11),
    ("Europe/Paris", 0.09),
    ("Europe/Berlin", 0.08),
    ("Asia/Kolkata", 0.05),
    ("Asia/Singapore", 0.05),
    ("Asia/Tokyo", 0.05),
    ("Australia/Sydney", 0.05),
)
_MAX_UTC_OFFSET = 14 * 3600  # no local day starts earlier than 14 h before its UTC midnight

_CLASSIC_NAMES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Corp",
    "Hooli",
    "Soylent",
    "Vandelay Industries",
    "Wonka Industries",
    "Stark Industries",
    "Tyrell Corp",
    "Cyberdyne Systems",
    "Wayne Enterprises",
    "Aperture Science",
    "Massive Dynamic",
    "Pied Piper",
    "Dunder Mifflin",
    "Sterling Cooper",
    "Oceanic Airlines",
    "Prestige Worldwide",
    "Gringotts",
)
_NAME_FIRST = (
    "Apex",
    "Beacon",
    "Blue",
    "Bright",
    "Cedar",
    "Copper",
    "Crest",
    "Delta",
    "Ember",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Helix",
    "Horizon",
    "Iron",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "North",
    "Nova",
    "Oak",
    "Orbit",
    "Pinnacle",
    "Polar",
    "Quantum",
    "Quartz",
    "Redwood",
    "River",
    "Sable",
    "Silver",
    "Summit",
    "Terra",
    "Tidal",
    "Vertex",
    "Willow",
    "Zenith",
)
_NAME_SECOND = (
    "Analytics",
    "Bank",
    "Bio",
    "Capital",
    "Logistics",
    "Health",
    "Foods",
    "Robotics",
    "Media",
    "Systems",
    "Works",
    "Dynamics",
    "Retail",
    "Energy",
    "Insurance",
    "Labs",
    "Networks",
    "Motors",
    "Travel",
    "Software",
    "Pharma",
    "Freight",
    "Telecom",
    "Studios",
    "Security",
    "Mobility",
    "Learning",
    "Realty",
    "Apparel",
    "Games",
)
_NAME_SUFFIX = ("", "", "", "", "Inc", "Corp", "Group", "Ltd", "GmbH", "LLC", "Co")
_TLD = {"GmbH": ".de", "Ltd": ".co.uk"}

_ROUTINE_SUBJECTS = (
    "Question about API rate limits",
    "How do I rotate our API keys?",
    "Add a user to our workspace",
    "SSO configuration help",
    "Usage report export",
    "Webhook retries not arriving",
    "Question about invoice line items",
    "Feature request: bulk export",
    "Latency higher than usual this morning",
    "Docs unclear for the streaming endpoint",
    "Change our billing contact",
    "Sandbox environment access",
)
_PAIN_SUBJECTS = (
    "Repeated timeouts in production",
    "Answer quality dropped after the last update",
    "Integration broken since the last release",
    "Escalation: outage affecting our customers",
    "Summaries are wrong for long documents",
    "Request for a contract review",
    "Bug still unresolved after three weeks",
    "Data export for our records",
    "How do we switch off auto-renewal?",
)
_INCIDENT_SUBJECTS = (
    "Outage: requests failing with 502",
    "Urgent: elevated error rates",
    "Degraded performance in our region",
)
_BILLING_SUBJECTS = (
    "Invoice much higher than expected",
    "Unexpected usage spike on our bill",
    "Can we set a spending cap?",
)
_EXPANSION_SUBJECTS = (
    "Onboarding a new team",
    "Adding seats for another department",
    "Pricing for a higher volume tier",
    "Enabling a new use case",
)
_ONBOARDING_SUBJECTS = (
    "Help getting started with the API",
    "Cannot authenticate with our API key",
    "Kickoff call follow-up",
    "Integration guide for our stack",
)


@dataclass(frozen=True, slots=True)
class _Segment:
    name: str
    share: float
    daily_spend: tuple[float, float]  # USD on an average day, drawn log-uniformly
    users: tuple[int, int]
    teams: tuple[int, int]
    features: tuple[int, int]
    noise: float  # day-to-day lognormal sigma
    tickets_per_year: float
    discount: tuple[float, float]


_SEGMENTS = (
    _Segment("smb", 0.50, (12.0, 120.0), (2, 6), (1, 2), (1, 2), 0.30, 2.0, (0.0, 0.05)),
    _Segment("mid-market", 0.32, (120.0, 900.0), (6, 16), (2, 3), (2, 3), 0.20, 5.0, (0.08, 0.2)),
    _Segment(
        "enterprise", 0.18, (900.0, 7000.0), (16, 40), (3, 5), (3, 4), 0.13, 10.0, (0.2, 0.35)
    ),
)


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happens to one account; days are the account's local days.

    ``churns``/``expands`` say whether it happens within the book, judged on the
    noise-free level (``CHURN_LEVEL``, ``EXPAND_LEVEL``); ``warning_date`` is when the
    leading indicators start (None: none, e.g. a churner without warning signs).
    ``commit_pace`` is the spend over the contract's days in the book divided by the
    commit's pro-rata amount for those days (1.0: on pace).
    """

    account: str
    shape: str
    segment: str
    baseline_daily_spend: float
    change_day: int | None  # days after the book's start; None for a shape without a change
    change_date: date | None
    warning_date: date | None
    churns: bool
    churn_date: date | None
    expands: bool
    expand_date: date | None
    exhaust_date: date | None  # the day cumulative spend in the term reached the commit
    bill_shock_date: date | None
    first_value_date: date | None  # first meaningful usage (slow_start)
    commit_pace: float

    def churned_by(self, day: date) -> bool:
        """Has the account churned on or before this day?"""
        return self.churn_date is not None and self.churn_date <= day

    def expanded_by(self, day: date) -> bool:
        """Has the account expanded on or before this day?"""
        return self.expand_date is not None and self.expand_date <= day

    def churns_within(self, cutoff: date, horizon_days: int) -> bool:
        """Does it churn after the cut-off, within the horizon?"""
        return _within(self.churn_date, cutoff, horizon_days)

    def expands_within(self, cutoff: date, horizon_days: int) -> bool:
        """Does it expand after the cut-off, within the horizon?"""
        return _within(self.expand_date, cutoff, horizon_days)

    def label(
        self, cutoff: date, horizon_days: int = 90
    ) -> Literal["churned", "churn", "expand", "expanded", "stable"]:
        """The outcome a signal computed at the cut-off should foresee."""
        if self.churned_by(cutoff):
            return "churned"
        if self.churns_within(cutoff, horizon_days):
            return "churn"
        if self.expands_within(cutoff, horizon_days):
            return "expand"
        if self.expanded_by(cutoff):
            return "expanded"
        return "stable"


def _within(moment: date | None, cutoff: date, horizon_days: int) -> bool:
    return moment is not None and cutoff < moment <= cutoff + timedelta(days=horizon_days)


@dataclass(slots=True)
class _User:
    id: str
    team: str
    features: tuple[str, ...]
    metrics: tuple[int, ...]
    weight: float
    join: int
    leave: int
    new_stream: bool = False  # carries the new use case's volume


@dataclass(slots=True)
class _Curve:
    level: list[float]  # the core usage level, 1.0 = baseline; 0 = nothing
    extra: list[float]  # the new use case's level on top
    spikes: dict[int, float]  # day -> extra spend, in baseline days, of a runaway job
    change: int | None = None
    lead: int = 0  # days of leading indicators before the change
    ramp: int = 0
    sign: int | None = None  # the day a new customer signs (slow_start)
    first_value: int | None = None


@dataclass(slots=True)
class _Plan:
    """Everything needed to stream one account's events."""

    index: int
    id: str
    tz: str
    metrics: tuple[int, ...]  # the book's metric indices this account uses; primary first
    totals: dict[int, array[int]]  # metric index -> quantity per local day
    spike_q: dict[int, int]  # day -> quantity of the primary metric from the runaway job
    new_share: list[float] | None  # per day, the share of volume from the new use case
    users: list[_User]
    spike_user: _User | None
    new_feature: str | None
    core_feature: str
    narrow_day: int | None  # from this day, remaining users use only the core feature
    success_rate: float
    success_drop: float
    success_drop_day: int | None
    active_rate: float
    weekend_users: float


@dataclass(frozen=True)
class Book:
    """A generated book: payloads for the ingestion API and the truth behind them."""

    seed: int
    start: date
    days: int
    metrics: tuple[str, ...]
    events_per_day_cap: int
    event_scale: float
    accounts: list[dict[str, Any]]
    contracts: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
    truth: dict[str, Truth]
    _plans: tuple[_Plan, ...] = field(repr=False, compare=False)

    @property
    def end(self) -> date:
        """The book's last day."""
        return self.start + timedelta(days=self.days - 1)


def generate_book(
    *,
    seed: int,
    accounts: int = 300,
    start: date,
    days: int = 365,
    metrics: Sequence[str] = DEFAULT_METRICS,
    mix: Mapping[str, float] | None = None,
    events_per_day_cap: int = DEFAULT_EVENTS_PER_DAY_CAP,
    event_scale: float = 1.0,
) -> Book:
    """Draw a book of ``accounts`` customers over ``days`` days from ``start``.

    ``metrics``: the metrics sold, the first used by every account (list prices in
    ``LIST_PRICES``). ``mix``: shape name -> weight (default ``SHAPE_MIX``); shapes are
    dealt in proportion, every shape with a weight appearing once the book is big
    enough. ``events_per_day_cap`` bounds each account's events per day and
    ``event_scale`` the events per active user and metric (1.0: one); neither changes
    quantities, which are aggregated into fewer, larger events.
    """
    if accounts < 1 or days < 1:
        raise ValueError("a book needs at least one account and one day")
    metrics = tuple(metrics)
    if not metrics or len(set(metrics)) != len(metrics):
        raise ValueError("metrics must be a non-empty sequence of distinct names")
    if events_per_day_cap < len(metrics):
        raise ValueError("events_per_day_cap must allow one event per metric")
    if event_scale <= 0:
        raise ValueError("event_scale must be positive")
    weights = dict(SHAPE_MIX if mix is None else mix)
    unknown = [s for s in weights if s not in SHAPES]
    if unknown or not any(w > 0 for w in weights.values()):
        raise ValueError(f"mix must weigh some of {SHAPES}; unknown: {unknown}")

    rng = random.Random(f"steward-book:{seed}")
    shapes = _deal(rng, [(s, weights.get(s, 0.0)) for s in SHAPES], accounts)
    segments = _deal(rng, [(s.name, s.share) for s in _SEGMENTS], accounts)
    names = _company_names(rng, accounts)
    holiday = _holiday_factors(start, days)

    book_accounts: list[dict[str, Any]] = []
    contracts: list[dict[str, Any]] = []
    tickets: list[tuple[int, str, dict[str, Any]]] = []
    truth: dict[str, Truth] = {}
    plans: list[_Plan] = []
    for index in range(accounts):
        segment = next(s for s in _SEGMENTS if s.name == segments[index])
        built = _build_account(
            seed=seed,
            index=index,
            name=names[index],
            shape=shapes[index],
            segment=segment,
            start=start,
            days=days,
            metrics=metrics,
            holiday=holiday,
        )
        book_accounts.append(built.account)
        contracts.append(built.contract)
        tickets.extend(built.tickets)
        truth[built.plan.id] = built.truth
        plans.append(built.plan)
    tickets.sort(key=lambda item: (item[0], item[1]))
    return Book(
        seed=seed,
        start=start,
        days=days,
        metrics=metrics,
        events_per_day_cap=events_per_day_cap,
        event_scale=event_scale,
        accounts=book_accounts,
        contracts=contracts,
        tickets=[ticket for _, _, ticket in tickets],
        truth=truth,
        _plans=tuple(plans),
    )


def _deal(rng: random.Random, weights: Sequence[tuple[str, float]], count: int) -> list[str]:
    """``count`` labels in proportion to their weights (largest remainder), shuffled."""
    total = sum(w for _, w in weights if w > 0)
    exact = [(name, count * w / total) for name, w in weights if w > 0]
    dealt = {name: int(share) for name, share in exact}
    by_remainder = sorted(exact, key=lambda item: item[1] - int(item[1]), reverse=True)
    for name, _ in by_remainder[: count - sum(dealt.values())]:
        dealt[name] += 1
    labels = [name for name, _ in exact for _ in range(dealt[name])]
    rng.shuffle(labels)
    return labels


def _company_names(rng: random.Random, count: int) -> list[str]:
    classics = list(_CLASSIC_NAMES)
    rng.shuffle(classics)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        if classics and rng.random() < 0.08:
            name = classics.pop()
            key = name
        else:
            first, second = rng.choice(_NAME_FIRST), rng.choice(_NAME_SECOND)
            key = f"{first} {second}"
            suffix = rng.choice(_NAME_SUFFIX)
            name = f"{key} {suffix}" if suffix else key
            if key in seen and len(seen) >= len(_NAME_FIRST) * len(_NAME_SECOND) // 2:
                key = name = f"{key} {len(names) + 1}"  # a very big book: number the rest
        if key in seen or _slug(name) in seen:
            continue
        seen.update((key, _slug(name)))
        names.append(name)
    return names


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _holiday_factors(start: date, days: int) -> list[float]:
    """Usage halves between Christmas Eve and New Year's Day."""
    factors = []
    for t in range(days):
        d = start + timedelta(days=t)
        winter = (d.month == 12 and d.day >= 24) or (d.month == 1 and d.day == 1)
        factors.append(0.55 if winter else 1.0)
    return factors


def _clip(x: float) -> float:
    return 0.0 if x <= 0 else 1.0 if x >= 1 else x


def _day(rng: random.Random, days: int, lo: float, hi: float, *, margin: int = 0) -> int:
    """A day between the fractions ``lo`` and ``hi`` of the book, ``margin`` days before its end."""
    first = int(days * lo)
    last = min(int(days * hi), days - 1 - margin)
    return min(max(rng.randint(first, max(first, last)), 0), days - 1)


def _curve(shape: str, rng: random.Random, start: date, days: int) -> _Curve:
    """The shape's noise-free level per day, with the day (and lead, ramp) of its change."""
    curve = _Curve(level=[1.0] * days, extra=[0.0] * days, spikes={})
    ts = range(days)
    if shape == "steady":
        drift = rng.uniform(-0.08, 0.12)
        curve.level = [1.0 + drift * t / 365 for t in ts]
    elif shape in ("growing", "early_exhaust"):
        if shape == "growing":
            c, ramp, power = _day(rng, days, 0.15, 0.6), rng.randint(60, 150), 1.0
            top = rng.uniform(2.0, 3.2)
        else:  # accelerating: the commit runs out months before the term ends
            c, ramp, power = _day(rng, days, 0.1, 0.3), rng.randint(45, 110), 1.5
            top = rng.uniform(2.6, 4.0)
        curve.change, curve.ramp, curve.lead = c, ramp, rng.randint(7, 28)
        curve.level = [1.0 + (top - 1.0) * _clip((t - c) / ramp) ** power for t in ts]
    elif shape == "seasonal":
        amp = rng.uniform(0.25, 0.45)
        quarterly = rng.random() < 0.6
        peak = rng.uniform(0.6, 0.95) if quarterly else rng.random()
        curve.level = [
            1.0 + amp * math.cos(2 * math.pi * (_period_fraction(start, t, quarterly) - peak))
            for t in ts
        ]
    elif shape == "declining":
        c, ramp, floor = _day(rng, days, 0.25, 0.6), rng.randint(40, 100), rng.uniform(0.05, 0.3)
        curve.change, curve.ramp, curve.lead = c, ramp, rng.randint(14, 42)
        curve.level = [1.0 - (1.0 - floor) * _clip((t - c) / ramp) for t in ts]
    elif shape == "dormant":
        c = _day(rng, days, 0.5, 1.0, margin=21)
        curve.change, curve.lead = c, rng.randint(14, 42)
        curve.level = [1.0 if t < c else 0.0 for t in ts]
    elif shape == "spiky":
        first = min(days - 1, max(days // 2, days - 1 - rng.randint(12, 45)))
        spike_days = sorted(
            rng.sample(range(first, min(first + 10, days)), min(rng.randint(3, 6), days - first))
        )
        mass = rng.uniform(45.0, 120.0)  # extra spend in baseline days: far above any budget
        shares = [rng.uniform(0.5, 1.5) for _ in spike_days]
        curve.spikes = {t: mass * s / sum(shares) for t, s in zip(spike_days, shares, strict=True)}
        curve.change = spike_days[0]
    elif shape == "new_use_case":
        c, ramp, amp = _day(rng, days, 0.3, 0.7), rng.randint(14, 45), rng.uniform(0.8, 1.6)
        lead = rng.randint(7, 28)
        curve.change, curve.ramp, curve.lead = c, ramp, lead
        curve.extra = [
            amp * _clip((t - c) / ramp) if t >= c else (0.03 * amp if t >= c - lead else 0.0)
            for t in ts
        ]
    elif shape == "slow_start":
        sign = _day(rng, days, 0.0, 0.45)
        fv = min(sign + rng.randint(21, 70), days - 1)
        ramp = rng.randint(21, 60)
        curve.sign, curve.first_value, curve.change, curve.ramp = sign, fv, fv, ramp
        curve.level = [0.0 if t < fv else 0.15 + 0.85 * _clip((t - fv) / ramp) for t in ts]
        if fv - sign > 2:  # a few test calls in the weeks before anything real
            for t in rng.sample(range(sign + 1, fv), min(rng.randint(2, 4), fv - sign - 1)):
                curve.level[t] = rng.uniform(0.003, 0.01)
    # under_use: the level is flat; the commit was sized for far more (see _build_account)
    return curve


def _period_fraction(start: date, t: int, quarterly: bool) -> float:
    d = start + timedelta(days=t)
    if quarterly:
        q_first = date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
        q_next = date(d.year + (q_first.month == 10), (q_first.month + 2) % 12 + 1, 1)
        return (d - q_first).days / (q_next - q_first).days
    m_next = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return (d.day - 1) / (m_next - date(d.year, d.month, 1)).days


@dataclass(slots=True)
class _Built:
    account: dict[str, Any]
    contract: dict[str, Any]
    tickets: list[tuple[int, str, dict[str, Any]]]
    truth: Truth
    plan: _Plan


def _build_account(
    *,
    seed: int,
    index: int,
    name: str,
    shape: str,
    segment: _Segment,
    start: date,
    days: int,
    metrics: tuple[str, ...],
    holiday: list[float],
) -> _Built:
    rng = random.Random(f"steward-book:{seed}:account:{index}")
    account_id = _slug(name)
    tz = rng.choices([z for z, _ in TIMEZONES], weights=[w for _, w in TIMEZONES])[0]
    curve = _curve(shape, rng, start, days)
    lo, hi = segment.daily_spend
    baseline = math.exp(rng.uniform(math.log(lo), math.log(hi)))  # actual spend on a level-1 day

    # Metrics, prices and the spend each metric takes.
    used = [0] + [
        i for i in range(1, len(metrics)) if rng.random() < (0.7, 0.45, 0.35)[min(i - 1, 2)]
    ]
    discount = rng.uniform(*segment.discount)
    prices = [float(f"{LIST_PRICES.get(m, DEFAULT_PRICE) * (1.0 - discount):.4g}") for m in metrics]
    share_w = [rng.uniform(1.0, 2.0) if i == 0 else rng.uniform(0.3, 1.0) for i in used]
    base_q = {
        i: baseline * w / sum(share_w) / prices[i] for i, w in zip(used, share_w, strict=True)
    }

    # Weekly rhythm (weekdays busier; some accounts run around the clock) and slow wobble.
    always_on = rng.random() < 0.1
    weekend = rng.uniform(0.65, 0.9) if always_on else rng.uniform(0.2, 0.45)
    week = [1.0, 1.06, 1.06, 1.02, 0.92, weekend, weekend * 0.85]
    week = [w * 7 / sum(week) for w in week]
    wobble = [
        (rng.uniform(0.03, 0.08), rng.uniform(20, 60), rng.uniform(0, 2 * math.pi)),
        (rng.uniform(0.02, 0.06), rng.uniform(60, 150), rng.uniform(0, 2 * math.pi)),
    ]

    # The contract, sized on the spend the customer planned for at signing.
    planned = baseline / rng.uniform(0.2, 0.45) if shape == "under_use" else baseline
    ratio = rng.uniform(0.95, 1.1) if shape == "early_exhaust" else rng.uniform(0.95, 1.15)
    committed = max(1000.0, round(planned * TERM_DAYS * ratio, -2))
    season_room = 1.45 if shape == "seasonal" else 1.0
    budget = max(100.0, round(planned * 30.44 * rng.uniform(1.25, 1.6) * season_room, -1))
    if curve.sign is not None:
        term_start = curve.sign
        customer_since = start + timedelta(days=curve.sign)
        go_live = customer_since + timedelta(days=rng.randint(14, 30))
    else:
        term_start = rng.randint(0, max(0, min(days - 1, int(days * 0.15))))
        customer_since = start - timedelta(days=rng.randint(60, 1500))
        go_live = customer_since + timedelta(days=rng.randint(10, 60))
    term_first = start + timedelta(days=term_start)
    term_last = term_first + timedelta(days=TERM_DAYS - 1)

    # Daily totals per metric, from the account's own stream of noise.
    totals, spike_q = _daily_totals(
        random.Random(f"steward-book:{seed}:totals:{index}"),
        curve=curve,
        base_q=base_q,
        spike_unit=baseline / prices[0],
        week=week,
        wobble=wobble,
        holiday=holiday,
        sigma=segment.noise,
        dow0=start.weekday(),
    )
    # Outcomes, from the noise-free level and the generated totals.
    level = [a + b for a, b in zip(curve.level, curve.extra, strict=True)]
    expand_day = next((t for t in range(days) if level[t] >= EXPAND_LEVEL), None)
    ref = next((t for t in range(days) if level[t] >= 0.8), None)
    churn_day = None
    if ref is not None:
        churn_day = next((t for t in range(ref, days) if level[t] <= CHURN_LEVEL), None)
    spend = [sum(totals[i][t] * prices[i] for i in used) for t in range(days)]
    exhaust_day, in_term, term_days_in_book = None, 0.0, 0
    for t in range(term_start, min(days, term_start + TERM_DAYS)):
        in_term += spend[t]
        term_days_in_book += 1
        if exhaust_day is None and in_term >= committed:
            exhaust_day = t
    pace = in_term / (committed * term_days_in_book / TERM_DAYS) if term_days_in_book else 0.0

    people = _people(rng, shape=shape, curve=curve, segment=segment, used=used, days=days)
    users, core_users, c = people.users, people.core_users, curve.change

    spike_user = rng.choice(core_users) if curve.spikes else None
    share: list[float] | None = None
    if shape == "new_use_case":
        share = [
            e / (lv + e) if lv + e > 0 else 0.0
            for lv, e in zip(curve.level, curve.extra, strict=True)
        ]

    def d(t: int | None) -> date | None:
        return None if t is None else start + timedelta(days=t)

    churned_date = None
    if shape == "dormant" and churn_day is not None:
        marked = churn_day + rng.randint(20, 60)
        churned_date = d(marked) if marked < days else None
    truth = Truth(
        account=account_id,
        shape=shape,
        segment=segment.name,
        baseline_daily_spend=round(baseline, 2),
        change_day=c,
        change_date=d(c),
        warning_date=d(people.warning_day),
        churns=churn_day is not None,
        churn_date=d(churn_day),
        expands=expand_day is not None,
        expand_date=d(expand_day),
        exhaust_date=d(exhaust_day),
        bill_shock_date=d(min(curve.spikes)) if curve.spikes else None,
        first_value_date=d(curve.first_value),
        commit_pace=round(pace, 4),
    )
    account: dict[str, Any] = {
        "id": account_id,
        "name": name,
        "domain": account_id.replace("-", "") + _TLD.get(name.rsplit(" ", 1)[-1], ".com"),
        "segment": segment.name,
        "arr": committed,
        "csm": rng.choice(CSMS),
        "ae": rng.choice(AES),
        "timezone": tz,
        "customer_since": customer_since.isoformat(),
        "go_live_date": go_live.isoformat(),
        "renewal_date": (term_last + timedelta(days=1)).isoformat(),
    }
    if churned_date is not None:
        account["churned_date"] = churned_date.isoformat()
    contract = {
        "id": f"bk{seed}-{account_id}-c1",
        "account": account_id,
        "kind": "commit",
        "start_date": term_first.isoformat(),
        "end_date": term_last.isoformat(),
        "committed_amount": committed,
        "currency": "USD",
        "unit_prices": dict(zip(metrics, prices, strict=True)),
        "monthly_budget": budget,
    }
    plan = _Plan(
        index=index,
        id=account_id,
        tz=tz,
        metrics=tuple(used),
        totals=totals,
        spike_q=spike_q,
        new_share=share,
        users=users,
        spike_user=spike_user,
        new_feature=people.new_feature,
        core_feature=people.core_feature,
        narrow_day=people.narrow_day,
        success_rate=rng.uniform(0.78, 0.94),
        success_drop=people.success_drop,
        success_drop_day=people.success_drop_day,
        active_rate=rng.uniform(0.4, 0.65),
        weekend_users=rng.uniform(0.5, 0.8) if always_on else rng.uniform(0.12, 0.3),
    )
    ticket_rng = random.Random(f"steward-book:{seed}:tickets:{index}")
    tickets = _tickets(
        ticket_rng,
        seed=seed,
        account_id=account_id,
        tz=tz,
        start=start,
        days=days,
        segment=segment,
        shape=shape,
        curve=curve,
        warned=people.warned,
        warning_day=people.warning_day,
        active_from=0 if curve.sign is None else curve.sign,
        active_until=days if shape != "dormant" or c is None else min(days, c + 30),
    )
    return _Built(account, contract, tickets, truth, plan)


def _daily_totals(
    rng: random.Random,
    *,
    curve: _Curve,
    base_q: dict[int, float],
    spike_unit: float,
    week: list[float],
    wobble: list[tuple[float, float, float]],
    holiday: list[float],
    sigma: float,
    dow0: int,
) -> tuple[dict[int, array[int]], dict[int, int]]:
    """Quantity per metric and local day (and the runaway job's part of the primary metric)."""
    totals: dict[int, array[int]] = {i: array("q") for i in base_q}
    spike_q: dict[int, int] = {}
    for t in range(len(curve.level)):
        lv = curve.level[t] + curve.extra[t]
        if lv <= 0:
            for series in totals.values():
                series.append(0)
            continue
        wob = 1.0 + sum(a * math.sin(2 * math.pi * t / p + ph) for a, p, ph in wobble)
        common = lv * week[(dow0 + t) % 7] * holiday[t] * wob
        common *= math.exp(rng.gauss(0.0, sigma) - sigma * sigma / 2)
        for i, series in totals.items():
            q = base_q[i] * common * math.exp(rng.gauss(0.0, 0.1) - 0.005)
            series.append(int(q + 0.5))
        if t in curve.spikes:
            extra = int(curve.spikes[t] * spike_unit + 0.5)
            spike_q[t] = extra
            totals[0][t] += extra
    return totals, spike_q


@dataclass(slots=True)
class _People:
    users: list[_User]  # by id; u1 is the champion, who stays as long as the account does
    core_users: list[_User]  # those there from the start (or the go-live)
    core_feature: str
    new_feature: str | None = None
    warned: bool = False
    warning_day: int | None = None
    narrow_day: int | None = None
    success_drop_day: int | None = None
    success_drop: float = 0.0


def _people(
    rng: random.Random,
    *,
    shape: str,
    curve: _Curve,
    segment: _Segment,
    used: list[int],
    days: int,
) -> _People:
    """A pool of users in teams, using features; who comes and goes is the breadth."""
    pick = rng.randint
    teams = rng.sample(TEAMS, pick(*segment.teams))
    features = rng.sample(FEATURES, pick(*segment.features))
    core_feature = features[0]
    never = days + 1
    first_join = -1 if curve.sign is None else curve.sign
    users: list[_User] = []

    def new_user(team: str, feats: tuple[str, ...], join: int, *, stream: bool = False) -> _User:
        mets = tuple(i for i in used if i == 0 or rng.random() < 0.5)
        weight = math.exp(rng.gauss(0.0, 0.6))
        user = _User(f"u{len(users) + 1}", team, feats, mets, weight, join, never, stream)
        users.append(user)
        return user

    def user_features() -> tuple[str, ...]:
        others = [f for f in features[1:] if rng.random() < 0.5]
        return (core_feature, *others)

    for k in range(pick(*segment.users)):
        join = first_join
        if curve.first_value is not None and k > 0:  # slow starters' users arrive with value
            join = pick(curve.first_value - 3, curve.first_value + max(curve.ramp, 3))
        new_user(teams[k % len(teams)], user_features(), join)
    core_users = list(users)
    for user in core_users[1:]:  # seat turnover: someone leaves, someone else takes over
        if rng.random() < 0.12 and user.join < days - 1:
            gone = pick(max(0, user.join + 1), days - 1)
            user.leave = gone
            new_user(user.team, user.features, gone + pick(3, 30))

    warned = False
    warning_day: int | None = None
    narrow_day: int | None = None
    success_drop_day: int | None = None
    success_drop = 0.0
    new_feature: str | None = None
    c = curve.change
    others = core_users[1:]
    if shape in ("declining", "dormant") and c is not None:
        warned = rng.random() < 0.75
        ramp_end = c + (curve.ramp if shape == "declining" else 0)
        if warned:
            warning_day = max(0, c - curve.lead)
            narrow_day = warning_day + curve.lead // 2
            success_drop_day, success_drop = warning_day, rng.uniform(0.08, 0.2)
            fraction = rng.uniform(0.45, 0.7)
            staying = []
            for user in others:
                if rng.random() < fraction:
                    user.leave = min(user.leave, pick(warning_day, max(warning_day, c)))
                else:
                    staying.append(user)
            others = staying
        if shape == "dormant":
            for user in users:
                user.leave = min(user.leave, c)
        else:
            for user in others:
                if rng.random() < 0.85:
                    user.leave = min(user.leave, pick(c, max(c, ramp_end)))
    elif shape in ("growing", "early_exhaust", "new_use_case") and c is not None:
        warned = rng.random() < 0.85
        spare_teams = [team for team in TEAMS if team not in teams]
        new_team = rng.choice(spare_teams)
        if shape == "new_use_case":
            new_feature = rng.choice([f for f in FEATURES if f not in features])
        feats = (new_feature,) if new_feature else user_features()
        count = max(2, round(len(core_users) * rng.uniform(0.4, 0.9)))
        for k in range(count):
            if warned and k < 2:  # a pilot: the new team tries it out weeks ahead
                join = pick(max(0, c - curve.lead), max(0, c - max(3, curve.lead // 2)))
            else:
                join = pick(c, c + max(curve.ramp, 1))
            new_user(new_team, feats, join, stream=new_feature is not None)
        if warned:
            warning_day = max(0, c - curve.lead)
    elif shape in ("steady", "seasonal", "under_use", "spiky") and rng.random() < 0.1:
        reorg = pick(0, days - 1)  # a false alarm: a reorganisation, usage carries on
        fraction = rng.uniform(0.3, 0.5)
        for user in others:
            if rng.random() < fraction:
                user.leave = min(user.leave, reorg)
    return _People(
        users=users,
        core_users=core_users,
        core_feature=core_feature,
        new_feature=new_feature,
        warned=warned,
        warning_day=warning_day,
        narrow_day=narrow_day,
        success_drop_day=success_drop_day,
        success_drop=success_drop,
    )


def _tickets(
    rng: random.Random,
    *,
    seed: int,
    account_id: str,
    tz: str,
    start: date,
    days: int,
    segment: _Segment,
    shape: str,
    curve: _Curve,
    warned: bool,
    warning_day: int | None,
    active_from: int,
    active_until: int,
) -> list[tuple[int, str, dict[str, Any]]]:
    """Support tickets: routine ones for everyone, bad ones ahead of a warned churn."""
    zone = ZoneInfo(tz)
    book_end = datetime.combine(start + timedelta(days=days), time(0), tzinfo=zone)
    wanted: list[tuple[int, str]] = []  # (day, kind)
    span = max(1, active_until - active_from)
    routine = _poisson(rng, segment.tickets_per_year * span / 365)
    for _ in range(routine):
        wanted.append((rng.randrange(active_from, active_from + span), "routine"))
    c = curve.change
    if shape in ("declining", "dormant") and warned and warning_day is not None and c is not None:
        for _ in range(rng.randint(1, 4)):
            wanted.append((rng.randint(warning_day, min(days - 1, c + 10)), "pain"))
    elif rng.random() < 0.1:  # an incident: urgent tickets and poor scores, then it passes
        day = rng.randrange(active_from, active_from + span)
        for _ in range(rng.randint(2, 3)):
            wanted.append((min(days - 1, day + rng.randint(0, 2)), "incident"))
    if shape == "spiky" and c is not None and rng.random() < 0.6:
        wanted.append((min(days - 1, c + rng.randint(1, 5)), "billing"))
    expanding = shape in ("growing", "early_exhaust", "new_use_case")
    if expanding and c is not None and rng.random() < 0.4:
        wanted.append((min(days - 1, max(0, c + rng.randint(-14, 14))), "expansion"))
    if shape == "slow_start" and curve.sign is not None and curve.first_value is not None:
        for _ in range(rng.randint(1, 3)):
            wanted.append(
                (rng.randint(curve.sign, min(days - 1, curve.first_value + 14)), "onboarding")
            )

    out: list[tuple[int, str, dict[str, Any]]] = []
    for number, (t, kind) in enumerate(sorted(wanted), start=1):
        opened = datetime.combine(
            start + timedelta(days=t),
            time(rng.randint(7, 19), rng.randrange(60), rng.randrange(60)),
            tzinfo=zone,
        )
        priority, subject, bad = _ticket_kind(rng, kind)
        hours = {"urgent": (1, 30), "high": (4, 96), "normal": (8, 168), "low": (12, 336)}
        lo, hi = hours[priority]
        took = timedelta(seconds=int(rng.uniform(lo, hi) * 3600))
        solved = (opened.astimezone(UTC) + took).astimezone(zone)
        ticket: dict[str, Any] = {
            "id": f"bk{seed}-{account_id}-t{number}",
            "account": account_id,
            "priority": priority,
            "subject": subject,
            "opened_at": opened.isoformat(),
        }
        if solved <= book_end:
            ticket["status"] = "closed" if book_end - solved > timedelta(days=7) else "solved"
            ticket["solved_at"] = solved.isoformat()
            if rng.random() < (0.8 if bad else 0.55):
                scores, weights = (
                    ((1, 2, 3), (5, 4, 1)) if bad else ((1, 2, 3, 4, 5), (3, 5, 12, 35, 45))
                )
                ticket["csat"] = rng.choices(scores, weights=weights)[0]
        else:
            recent = book_end - opened < timedelta(days=1)
            ticket["status"] = "new" if recent else rng.choice(("open", "open", "pending", "hold"))
        out.append((int(opened.timestamp()), ticket["id"], ticket))
    return out


def _ticket_kind(rng: random.Random, kind: str) -> tuple[str, str, bool]:
    """(priority, subject, whether the customer is unhappy) for a kind of ticket."""
    if kind == "pain":
        return rng.choice(("high", "high", "urgent", "normal")), rng.choice(_PAIN_SUBJECTS), True
    if kind == "incident":
        return rng.choice(("high", "urgent")), rng.choice(_INCIDENT_SUBJECTS), True
    if kind == "billing":
        return "high", rng.choice(_BILLING_SUBJECTS), True
    if kind == "expansion":
        return rng.choice(("low", "normal")), rng.choice(_EXPANSION_SUBJECTS), False
    if kind == "onboarding":
        return rng.choice(("normal", "high")), rng.choice(_ONBOARDING_SUBJECTS), False
    priority = rng.choices(("low", "normal", "high", "urgent"), weights=(25, 55, 15, 5))[0]
    return priority, rng.choice(_ROUTINE_SUBJECTS), False


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


PayloadKind = Literal["accounts", "contracts", "tickets", "events"]
_SEQ_BITS = 32
_first = itemgetter(0)


def iter_events(book: Book) -> Iterator[dict[str, Any]]:
    """Every usage event of the book (EventIn payloads), in time order.

    Events are made one day at a time and held until no later day can precede them,
    so memory holds about two days of events. Events at the same second come in a fixed
    order. Per account, metric and local day, the quantities add up to the planned total.
    """
    epoch0 = int(datetime.combine(book.start, time(0), tzinfo=UTC).timestamp())
    dates = [book.start + timedelta(days=t) for t in range(book.days)]
    calendar = _Calendar(
        epoch0=epoch0,
        dow0=book.start.weekday(),
        day_text=[d.isoformat() + "T" for d in dates],
        day_compact=[d.strftime("%Y%m%d") for d in dates],
        clock=_clock_texts(),
    )
    zones = {tz: _offsets(tz, book.start, book.days) for tz in sorted({p.tz for p in book._plans})}
    makers = [_EventMaker(book, plan, calendar, zones[plan.tz]) for plan in book._plans]
    pending: list[tuple[int, dict[str, Any]]] = []
    for t in range(book.days):
        for maker in makers:
            maker.day(t, pending)
        pending.sort(key=_first)
        # A later local day starts at least 14 h before its UTC midnight: all before is final.
        horizon = (epoch0 + 86_400 * (t + 1) - _MAX_UTC_OFFSET) << _SEQ_BITS
        ready = _count_below(pending, horizon)
        for _, event in pending[:ready]:
            yield event
        del pending[:ready]
    pending.sort(key=_first)
    for _, event in pending:
        yield event


def book_payload_batches(
    book: Book, batch_size: int = 2000
) -> Iterator[tuple[PayloadKind, list[dict[str, Any]]]]:
    """(kind, payloads) in ingestion order: accounts, contracts, tickets, then events.

    Batches hold at most ``batch_size`` items (the API takes up to 5,000 per request).
    The dicts are the book's own: copy them before changing them.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    records: tuple[tuple[PayloadKind, list[dict[str, Any]]], ...] = (
        ("accounts", book.accounts),
        ("contracts", book.contracts),
        ("tickets", book.tickets),
    )
    for kind, items in records:
        for i in range(0, len(items), batch_size):
            yield kind, items[i : i + batch_size]
    batch: list[dict[str, Any]] = []
    for event in iter_events(book):
        batch.append(event)
        if len(batch) == batch_size:
            yield "events", batch
            batch = []
    if batch:
        yield "events", batch


def _count_below(pending: list[tuple[int, dict[str, Any]]], key: int) -> int:
    lo, hi = 0, len(pending)
    while lo < hi:
        mid = (lo + hi) // 2
        if pending[mid][0] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@cache
def _clock_texts() -> tuple[str, ...]:
    """ "HH:MM:SS" for every second of a day."""
    return tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))


def _offsets(tz: str, start: date, days: int) -> tuple[list[int], list[str]]:
    """The zone's UTC offset at noon of each day, in seconds and as "+HH:MM"."""
    zone = ZoneInfo(tz)
    seconds, texts = [], []
    for t in range(days):
        offset = datetime.combine(start + timedelta(days=t), time(12), tzinfo=zone).utcoffset()
        secs = int(offset.total_seconds()) if offset is not None else 0
        sign = "-" if secs < 0 else "+"
        seconds.append(secs)
        texts.append(f"{sign}{abs(secs) // 3600:02d}:{abs(secs) // 60 % 60:02d}")
    return seconds, texts


@dataclass(frozen=True, slots=True)
class _Calendar:
    epoch0: int  # the book's first day, 00:00 UTC, in Unix seconds
    dow0: int
    day_text: list[str]  # "YYYY-MM-DDT" per day
    day_compact: list[str]  # "YYYYMMDD" per day
    clock: tuple[str, ...]


class _EventMaker:
    """One account's events, day after day, from its own random stream."""

    def __init__(
        self, book: Book, plan: _Plan, calendar: _Calendar, zone: tuple[list[int], list[str]]
    ) -> None:
        self.plan = plan
        self.rng = random.Random(f"steward-book:{book.seed}:events:{plan.index}")
        self.calendar = calendar
        self.offset_seconds, self.offset_texts = zone
        self.metric_names = book.metrics
        self.cap = book.events_per_day_cap
        self.scale = book.event_scale
        self.id_prefix = f"bk{book.seed}-{plan.id}-"
        self.seq = plan.index << 24  # a tie-breaker unique within the pending window

    def day(self, t: int, out: list[tuple[int, dict[str, Any]]]) -> None:
        p = self.plan
        today = [(i, p.totals[i][t]) for i in p.metrics if p.totals[i][t] > 0]
        if not today:
            return
        rng = self.rng
        rand = rng.random
        cal = self.calendar
        eligible = [u for u in p.users if u.join <= t < u.leave] or p.users[:1]
        weekend = (cal.dow0 + t) % 7 >= 5
        rate = p.active_rate * (p.weekend_users if weekend else 1.0)
        n_active = round(len(eligible) * rate * (0.75 + 0.5 * rng.random()))
        active = rng.sample(eligible, min(len(eligible), max(1, n_active)))

        midnight = cal.epoch0 + 86_400 * t - self.offset_seconds[t]
        id_prefix = self.id_prefix + cal.day_compact[t] + "-"
        day_text, offset, clock = cal.day_text[t], self.offset_texts[t], cal.clock
        narrow = p.narrow_day is not None and t >= p.narrow_day
        dropped = p.success_drop_day is not None and t >= p.success_drop_day
        success_rate = p.success_rate - (p.success_drop if dropped else 0.0)
        share = p.new_share[t] if p.new_share is not None else 0.0
        cap = max(1, self.cap // len(today))
        count = 0
        for i, total in today:
            metric = self.metric_names[i]
            spike = p.spike_q.get(t, 0) if i == 0 else 0
            runs = 0
            slots = [u for u in active if i in u.metrics] or active[:1]
            if self.scale != 1.0:
                slots = self._scaled(slots)
            slots = slots[:cap]
            parts = self._parts(slots, total - spike, share)
            if spike and p.spike_user is not None:  # a runaway job, at night
                runs = rng.randint(2, 4)
                parts.extend((p.spike_user, q) for q in self._split(runs, spike))
            with_success = metric in SUCCESS_METRICS
            for n, (user, quantity) in enumerate(parts):
                if quantity <= 0:
                    continue
                if spike and n >= len(parts) - runs:
                    second = int(rand() * 18_000)
                elif rand() < 0.85:
                    second = 28_800 + int(rand() * 36_000)
                else:
                    second = int(rand() * 86_400)
                if user.new_stream and p.new_feature is not None:
                    feature = p.new_feature
                elif narrow:
                    feature = p.core_feature
                else:
                    feature = user.features[int(rand() * len(user.features))]
                event: dict[str, Any] = {
                    "id": id_prefix + str(count),
                    "account": p.id,
                    "timestamp": day_text + clock[second] + offset,
                    "metric": metric,
                    "quantity": quantity,
                    "user": user.id,
                    "feature": feature,
                    "team": user.team,
                }
                if with_success:
                    event["success"] = rand() < success_rate
                self.seq = (self.seq + 1) & 0xFFFF_FFFF
                out.append((((midnight + second) << _SEQ_BITS) | self.seq, event))
                count += 1

    def _scaled(self, slots: list[_User]) -> list[_User]:
        whole, frac = int(self.scale), self.scale - int(self.scale)
        scaled = [u for u in slots for _ in range(whole + (self.rng.random() < frac))]
        return scaled or slots[:1]

    def _parts(self, slots: list[_User], total: int, share: float) -> list[tuple[_User, int]]:
        """Split a day's quantity over the slots; new-use-case users carry its share."""
        if share > 0:
            new = [u for u in slots if u.new_stream]
            core = [u for u in slots if not u.new_stream]
            if new and core:
                new_total = int(total * share + 0.5)
                return self._weighted(core, total - new_total) + self._weighted(new, new_total)
        return self._weighted(slots, total)

    def _weighted(self, users: list[_User], total: int) -> list[tuple[_User, int]]:
        if total <= 0 or not users:
            return []
        users = users[:total]
        weights = [u.weight * (0.5 + self.rng.random()) for u in users]
        scale = total / sum(weights)
        parts = [int(w * scale) for w in weights]
        parts[0] += total - sum(parts)
        return list(zip(users, parts, strict=True))

    def _split(self, count: int, total: int) -> list[int]:
        count = max(1, min(count, total))
        weights = [0.5 + self.rng.random() for _ in range(count)]
        scale = total / sum(weights)
        parts = [int(w * scale) for w in weights]
        parts[0] += total - sum(parts)
        return parts
