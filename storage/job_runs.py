"""The last run of each scheduled job, for `steward worker` logs and `steward jobs`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.dialect import upsert_statement
from storage.tables import job_runs

SUMMARY_LENGTH = 500


@dataclass(frozen=True, slots=True)
class JobRun:
    """How a job last went."""

    name: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    summary: str | None
    runs: int
    ok_runs: int


def started(conn: Connection, name: str, *, now: datetime) -> None:
    """Record that a job started."""
    stmt = upsert_statement(conn, job_runs).values(
        name=name,
        started_at=now,
        finished_at=None,
        status="running",
        summary=None,
        runs=1,
        ok_runs=0,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "started_at": now,
                "finished_at": None,
                "status": "running",
                "runs": job_runs.c.runs + 1,
            },
        )
    )


def finished(conn: Connection, name: str, *, now: datetime, ok: bool, summary: str) -> None:
    """Record how a job ended."""
    j = job_runs.c
    conn.execute(
        job_runs.update()
        .where(j.name == name)
        .values(
            finished_at=now,
            status="ok" if ok else "failed",
            summary=summary[:SUMMARY_LENGTH],
            ok_runs=j.ok_runs + (1 if ok else 0),
        )
    )


def all_runs(conn: Connection) -> list[JobRun]:
    """Every job's last run, by name."""
    rows = conn.execute(sa.select(*job_runs.c).order_by(job_runs.c.name))
    return [JobRun(**row._mapping) for row in rows]
