"""What Steward counts for operators, exposed at /metrics in the Prometheus text format.

The counters and histograms live in one registry of their own (not the client's global
one), so building the web app twice in a process (as tests do) registers nothing twice.
Figures read from the database (outbox depth, job runs) are collected at scrape time
by the web app. With `steward serve --workers N`, each process answers for itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from core import logs

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_LATENCY = Histogram(
    "steward_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and status class",
    ("route", "status"),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
INGEST_REQUESTS = Counter(
    "steward_ingest_requests_total",
    "Ingestion requests by kind and result (stored, duplicate_delivery, rejected, unavailable)",
    ("kind", "result"),
    registry=REGISTRY,
)
INGEST_ITEMS = Counter(
    "steward_ingest_items_total",
    "Items received by kind and outcome (accepted, duplicate)",
    ("kind", "outcome"),
    registry=REGISTRY,
)
COMMAND_LATENCY = Histogram(
    "steward_command_duration_seconds",
    "Time to compose the answer to a command or button, by platform",
    ("platform",),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
SCORING_SECONDS = Histogram(
    "steward_scoring_duration_seconds",
    "Time to score the book for one day",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
    registry=REGISTRY,
)


@contextmanager
def command_timer(platform: str, command: str) -> Iterator[None]:
    """Time composing one answer: the latency histogram, and a record for JSON logs."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        COMMAND_LATENCY.labels(platform).observe(seconds)
        extra = {"platform": platform, "command": command, "duration_ms": round(seconds * 1000, 1)}
        logs.ACCESS.info("%s %s", platform, command, extra=extra)
