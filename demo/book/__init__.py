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
the ingestion API accepts (``handlers.api.schemas``).

Days are the account's local calendar days, ``t`` days after ``start``; timestamps carry
the account's UTC offset. Everything is drawn from ``random.Random`` instances seeded
from text that names the book's seed and the account, so one seed always gives the same
book, and whether an account's events are generated does not change another's. A book
meant for ingestion must end in the past: the API refuses times in the future.

The package's modules, each with one role: ``catalog`` (shapes, segments, metrics and
prices), ``names``, ``shapes`` (the usage curve per shape), ``usage`` (daily
quantities), ``people``, ``tickets``, ``truth``, ``accounts`` (one account),
``generate`` (the book), ``model`` (the Book record) and ``events`` (streaming the
payloads). What this module exports is the public API.
"""

from demo.book.catalog import (
    DEFAULT_EVENTS_PER_DAY_CAP,
    DEFAULT_METRICS,
    DEFAULT_PRICE,
    FEATURES,
    LIST_PRICES,
    SHAPE_MIX,
    SHAPES,
    SUCCESS_METRICS,
    TEAMS,
    TERM_DAYS,
    TIMEZONES,
)
from demo.book.events import PayloadKind, book_payload_batches, iter_events
from demo.book.generate import generate_book
from demo.book.model import Book
from demo.book.names import AES, CSMS
from demo.book.truth import CHURN_LEVEL, EXPAND_LEVEL, Truth

__all__ = [
    "AES",
    "CHURN_LEVEL",
    "CSMS",
    "DEFAULT_EVENTS_PER_DAY_CAP",
    "DEFAULT_METRICS",
    "DEFAULT_PRICE",
    "EXPAND_LEVEL",
    "FEATURES",
    "LIST_PRICES",
    "SHAPES",
    "SHAPE_MIX",
    "SUCCESS_METRICS",
    "TEAMS",
    "TERM_DAYS",
    "TIMEZONES",
    "Book",
    "PayloadKind",
    "Truth",
    "book_payload_batches",
    "generate_book",
    "iter_events",
]
