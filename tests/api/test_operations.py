"""What operators poll: readiness that knows the schema, and Prometheus metrics behind a token."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.web import create_app
from core.logs import JsonFormatter
from core.settings import Settings
from services.container import build_services
from storage import job_runs, outbox
from storage.db import write_transaction
from tests.support.events import NOW, batch
from tests.support.sender import Sender
from tests.support.server import TEST_SECRET, TEST_TOKEN, LiveServer


def sample(text: str, name: str, *, missing: float | None = None, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (``missing`` if absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match[1].split(","))) == wanted:
            return float(match[2])
    if missing is not None:
        return missing
    raise AssertionError(f"no sample {name}{{{wanted}}}")


def test_readyz_refuses_a_database_whose_migrations_are_not_applied(
    settings: Settings, tmp_path: Path
) -> None:
    fresh = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/new.db"})
    services = build_services(fresh)
    with (
        LiveServer(create_app(services)) as server,
        Sender(server.url, secret=TEST_SECRET, token=TEST_TOKEN) as sender,
    ):
        anonymous = sender.unauthenticated("GET", "/readyz")
        operator = sender.get("/readyz")
    assert anonymous.status_code == operator.status_code == 503
    assert "detail" not in anonymous.json()
    assert "run `steward migrate`" in operator.json()["detail"]
    services.engine.dispose()


STORED = "steward_ingest_requests_total"


def test_metrics_need_a_token(sender: Sender) -> None:
    assert sender.unauthenticated("GET", "/metrics").status_code == 401


def test_metrics_count_ingestion_latency_and_the_outbox(sender: Sender, db: Engine) -> None:
    before = sender.get("/metrics").text
    stored = sample(before, STORED, kind="events", result="stored", missing=0.0)
    assert sender.signed("/v1/events", batch(3)).status_code == 200
    assert sender.signed("/v1/events", {"events": [{"id": "bad"}]}).status_code == 422
    with write_transaction(db) as conn:
        outbox.enqueue(
            conn,
            platform="slack",
            channel="C1",
            kind="digest",
            account_id=None,
            period="2026-11-20",
            card={"title": "t", "summary": "s"},
            not_before=NOW,
            now=NOW - timedelta(minutes=5),
        )

    with write_transaction(db) as conn:  # the worker's record of its jobs: its heartbeat
        job_runs.started(conn, "alerts", now=NOW)
        job_runs.finished(conn, "alerts", now=NOW, ok=False, summary="database away")
        job_runs.started(conn, "alerts", now=NOW + timedelta(minutes=1))

    after = sender.get("/metrics")

    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert sample(text, STORED, kind="events", result="stored") == stored + 1
    assert sample(text, "steward_ingest_requests_total", kind="events", result="rejected") >= 1
    assert sample(text, "steward_ingest_items_total", kind="events", outcome="accepted") >= 3
    assert sample(text, "steward_outbox_messages", status="pending") == 1
    assert sample(text, "steward_job_runs", job="alerts") == 2
    assert sample(text, "steward_job_failures", job="alerts") == 1  # the running one is not
    last = sample(text, "steward_job_last_run_timestamp_seconds", job="alerts")
    assert last == (NOW + timedelta(minutes=1)).timestamp()
    assert sample(text, "steward_outbox_oldest_age_seconds", status="pending") > 0
    assert (
        sample(
            text, "steward_http_request_duration_seconds_count", route="/v1/events", status="2xx"
        )
        >= 1
    )


def test_each_request_has_an_id_and_a_record_for_json_logs(
    sender: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="steward.access")
    given = sender.http.get("/readyz", headers={"x-request-id": "lb-7f3a"})
    made = sender.unauthenticated("GET", "/healthz")
    assert given.headers["x-request-id"] == "lb-7f3a"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    (record,) = [r for r in caplog.records if getattr(r, "request_id", None) == "lb-7f3a"]
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "/readyz"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["message"] == "GET /readyz 200"
    assert {"time", "level", "logger"} <= set(line)
