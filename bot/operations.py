"""The routes operators and platforms poll: liveness, readiness and Prometheus metrics.

``/healthz`` says only that the process answers (a liveness check must not fail
because the database is away: restarting the web process would not bring it back).
``/readyz`` checks the database and the migrations; what went wrong is logged, and
shown in the answer only to a caller with an API token. ``/metrics`` needs the token
too: counts of customers' traffic are nobody else's business.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from core import logs, metrics
from handlers.api.auth import Unauthorized
from services.container import Services
from storage import job_runs, outbox
from storage import migrate as migrations
from storage.db import DatabaseUnavailable, ping, read_connection

log = logging.getLogger(__name__)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
Answer = Callable[[int, dict[str, Any]], Response]


class StoreCollector(Collector):
    """Outbox depth and age by status, and each job's runs and last run, read at scrape time."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        try:
            with read_connection(self.services.engine) as conn:
                depth = outbox.depth(conn)
                runs = job_runs.all_runs(conn)
        except DatabaseUnavailable:
            return
        now = self.services.clock()
        yield from _outbox_families(depth, now)
        yield from _job_families(runs)


def _outbox_families(
    depth: dict[str, tuple[int, datetime | None]], now: datetime
) -> Iterator[Metric]:
    count = GaugeMetricFamily(
        "steward_outbox_messages", "Outbox messages by status", labels=["status"]
    )
    age = GaugeMetricFamily(
        "steward_outbox_oldest_age_seconds",
        "Age of the oldest outbox message in each status",
        labels=["status"],
    )
    for status in ("pending", "sent", "failed"):
        n, oldest = depth.get(status, (0, None))
        count.add_metric([status], n)
        age.add_metric([status], (now - oldest).total_seconds() if oldest else 0.0)
    yield count
    yield age


def _job_families(runs: list[job_runs.JobRun]) -> Iterator[Metric]:
    total = GaugeMetricFamily("steward_job_runs", "Runs of each job so far", labels=["job"])
    failed = GaugeMetricFamily(
        "steward_job_failures", "Runs of each job that failed", labels=["job"]
    )
    last = GaugeMetricFamily(
        "steward_job_last_run_timestamp_seconds",
        "When each job last started (the worker's heartbeat)",
        labels=["job"],
    )
    for run in runs:
        total.add_metric([run.name], run.runs)
        failed.add_metric([run.name], run.runs - run.ok_runs - (run.status == "running"))
        last.add_metric([run.name], run.started_at.timestamp())
    yield total
    yield failed
    yield last


def add_operations(app: FastAPI, services: Services, answer: Answer) -> None:
    """Add /healthz, /readyz, /metrics and the request latency histogram to the app."""
    store = CollectorRegistry(auto_describe=True)
    store.register(StoreCollector(services))

    def authorized(request: Request) -> bool:
        try:
            services.auth.authenticate(request.headers, b"", allow_signature=False)
        except Unauthorized:
            return False
        return True

    async def healthz(_: Request) -> Response:
        """200 while the process answers (liveness; nothing internal in the answer)."""
        return answer(200, {"status": "ok"})

    async def readyz(request: Request) -> Response:
        """200 when the database answers and its schema is current, else 503."""
        problem = await run_in_threadpool(_readiness_problem, services)
        if problem is None:
            return answer(200, {"status": "ready"})
        log.error("not ready: %s", problem)
        body: dict[str, Any] = {"status": "not_ready", "error": "unavailable"}
        if authorized(request):
            body["detail"] = problem
        return answer(503, body)

    async def metrics_route(request: Request) -> Response:
        """The Prometheus metrics (bearer token required)."""
        if not authorized(request):
            return answer(401, {"error": "unauthorized", "message": "a bearer token is required"})
        text = generate_latest(metrics.REGISTRY) + await run_in_threadpool(generate_latest, store)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/readyz", readyz, methods=["GET"])
    app.add_api_route("/metrics", metrics_route, methods=["GET"], include_in_schema=False)
    app.middleware("http")(_timed)


def _readiness_problem(services: Services) -> str | None:
    try:
        ping(services.engine)
        waiting = migrations.pending(services.engine)
    except DatabaseUnavailable as exc:
        return f"database unreachable: {exc}"
    if waiting:
        return f"{len(waiting)} migration(s) not applied: run `steward migrate`"
    return None


async def _timed(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    request_id = _request_id(request.headers.get("x-request-id"))
    response = await call_next(request)
    seconds = time.perf_counter() - started
    route = getattr(request.scope.get("route"), "path", "unmatched")
    metrics.HTTP_LATENCY.labels(route, f"{response.status_code // 100}xx").observe(seconds)
    response.headers["X-Request-ID"] = request_id
    logs.ACCESS.info(
        "%s %s %d",
        request.method,
        route,
        response.status_code,
        extra={
            "request_id": request_id,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
    return response


def _request_id(given: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    if given and REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex
