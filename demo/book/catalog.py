"""What a book is drawn from: shapes, segments, metrics, prices, teams, features, zones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    share: float
    daily_spend: tuple[float, float]  # USD on an average day, drawn log-uniformly
    users: tuple[int, int]
    teams: tuple[int, int]
    features: tuple[int, int]
    noise: float  # day-to-day lognormal sigma
    tickets_per_year: float
    discount: tuple[float, float]


SEGMENTS = (
    Segment("smb", 0.50, (12.0, 120.0), (2, 6), (1, 2), (1, 2), 0.30, 2.0, (0.0, 0.05)),
    Segment("mid-market", 0.32, (120.0, 900.0), (6, 16), (2, 3), (2, 3), 0.20, 5.0, (0.08, 0.2)),
    Segment("enterprise", 0.18, (900.0, 7000.0), (16, 40), (3, 5), (3, 4), 0.13, 10.0, (0.2, 0.35)),
)
