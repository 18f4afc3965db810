"""`steward sync` against a real PostgreSQL table acting as the warehouse: rows read once,
incrementally from the stored watermark, through the same ingestion; and the worker's job."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings, SyncConfig
from services.container import build_services
from services.jobs import Jobs
from storage import sync_state, tables

STEWARD = str(Path(sys.executable).with_name("steward"))
ADMIN = os.environ.get("STEWARD_WAREHOUSE_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EVENTS_QUERY = """
-- the warehouse's columns, named as Steward's event fields
SELECT event_id AS id, customer AS account, event AS metric, happened_at AS "timestamp",
       qty AS quantity, updated_at
FROM product_events;
"""


@pytest.fixture
def warehouse() -> Iterator[str]:
    """A scratch PostgreSQL database standing in for the customer's warehouse."""
    name = f"steward_wh_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN} to act as the warehouse: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE product_events (event_id text PRIMARY KEY, customer text, event text, "
            "happened_at timestamptz, qty numeric(18, 4), updated_at timestamptz NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE daily_usage (row_id bigint PRIMARY KEY, customer text, metric text, "
            "day date, total numeric, updated_at timestamptz NOT NULL)"
        )
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert(url: str, table: str, rows: list[tuple[Any, ...]]) -> None:
    marks = ", ".join(["%s"] * len(rows[0]))
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608


def event(n: int, minutes: int, qty: float = 2.0) -> tuple[Any, ...]:
    return (f"wh_{n}", "acme", "tokens", T0, qty, T0 + timedelta(minutes=minutes))


def run_sync(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [STEWARD, "sync", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def daily(db: Engine) -> dict[str, tuple[float, int]]:
    u = tables.usage_daily.c
    with db.connect() as conn:
        rows = conn.execute(sa.select(u.day, u.quantity, u.events))
        return {str(r.day): (r.quantity, r.events) for r in rows}


def test_sync_reads_each_row_once_from_the_stored_watermark(
    db: Engine, database_url: str, warehouse: str, tmp_path: Path
) -> None:
    query = tmp_path / "events.sql"
    query.write_text(EVENTS_QUERY)
    insert(warehouse, "product_events", [event(1, 1), event(2, 2), event(3, 3)])
    args = ("--from", warehouse, "--query", str(query), "--name", "product")

    first = run_sync(database_url, tmp_path, *args)
    again = run_sync(database_url, tmp_path, *args)
    insert(warehouse, "product_events", [event(4, 4), event(5, 5, qty=-1), event(6, 6)])
    third = run_sync(database_url, tmp_path, *args)

    assert first.returncode == 0, first.stderr
    assert "sync product: 3 rows read, 3 accepted, 0 duplicates, 0 rejected" in first.stdout
    # The row at the watermark is read again (>=) and counted as the duplicate it is.
    assert "sync product: 1 rows read, 0 accepted, 1 duplicates, 0 rejected" in again.stdout
    assert third.returncode == 1
    assert "sync product: 4 rows read, 2 accepted, 1 duplicates, 1 rejected" in third.stdout
    assert "row 3 (id 'wh_5'): quantity: Input should be greater than or equal to 0" in (
        third.stdout
    )
    assert daily(db) == {"2026-11-02": (10.0, 5)}
    with db.connect() as conn:
        state = sync_state.get(conn, "product")
    assert state.watermark == T0 + timedelta(minutes=6)


def test_usage_totals_sync_and_a_revised_total_replaces_the_first(
    db: Engine, database_url: str, warehouse: str, tmp_path: Path
) -> None:
    query = tmp_path / "usage.sql"
    query.write_text(
        "SELECT row_id AS id, customer AS account, metric, day, total AS quantity, updated_at "
        "FROM daily_usage WHERE metric = 'tokens'"
    )
    insert(warehouse, "daily_usage", [(1, "acme", "tokens", T0.date(), 100, T0)])
    args = ("--from", warehouse, "--query", str(query), "--kind", "usage")

    first = run_sync(database_url, tmp_path, *args)
    insert(
        warehouse, "daily_usage", [(2, "acme", "tokens", T0.date(), 150, T0 + timedelta(hours=1))]
    )
    second = run_sync(database_url, tmp_path, *args)

    assert "sync usage: 1 rows read, 1 accepted" in first.stdout, first.stderr
    assert "sync usage: 2 rows read, 1 accepted, 1 duplicates" in second.stdout
    assert daily(db) == {"2026-11-02": (150.0, 1)}


def test_a_query_without_the_watermark_column_is_refused(
    db: Engine, database_url: str, warehouse: str, tmp_path: Path
) -> None:
    query = tmp_path / "q.sql"
    query.write_text("SELECT event_id AS id FROM product_events")

    result = run_sync(database_url, tmp_path, "--from", warehouse, "--query", str(query))

    assert result.returncode == 2
    assert "no watermark column updated_at or timestamp" in result.stderr.replace("\n", " ")


def test_the_worker_runs_each_configured_sync_when_it_is_due(
    db: Engine, settings: Settings, warehouse: str, tmp_path: Path
) -> None:
    query = tmp_path / "events.sql"
    query.write_text(EVENTS_QUERY)
    insert(warehouse, "product_events", [event(1, 1), event(2, 2)])
    config = SyncConfig.model_validate({"url": warehouse, "query": query, "every": "1h"})
    services = build_services(settings.model_copy(update={"syncs": {"wh": config}}), engine=db)
    clock = [datetime.now(UTC)]
    services.clock = lambda: clock[0]
    jobs = Jobs(services, {})

    first = jobs.run("sync")
    insert(warehouse, "product_events", [event(3, 3)])
    too_soon = jobs.run("sync")
    clock[0] += timedelta(hours=1)
    later = jobs.run("sync")

    assert first.startswith("sync wh: 2 rows read, 2 accepted")
    assert too_soon == "no sync due"
    assert later.startswith("sync wh: 2 rows read, 1 accepted, 1 duplicates")
    assert daily(db) == {"2026-11-02": (6.0, 3)}


def test_an_unreachable_warehouse_is_reported_and_retried_later(
    db: Engine, settings: Settings, tmp_path: Path
) -> None:
    query = tmp_path / "events.sql"
    query.write_text(EVENTS_QUERY)
    config = SyncConfig.model_validate(
        {"url": "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2", "query": query}
    )
    services = build_services(settings.model_copy(update={"syncs": {"down": config}}), engine=db)

    summary = Jobs(services, {}).run("sync")

    assert summary.startswith("sync down: failed:")
    assert Jobs(services, {}).run("sync") == "no sync due"
