"""`steward sync`: read events or usage totals from a warehouse with any SQLAlchemy dialect,
incrementally from a stored watermark, through the same validation and ingestion as ``/v1/*``.

The query's columns are named as the kind's fields (``SELECT customer_id AS account, ...``).
Steward wraps it as ``SELECT * FROM (<query>) WHERE <watermark> >= :last ORDER BY <watermark>``
and keeps the largest watermark read, per sync name, in its own database. Rows at the
stored watermark are read again on the next run (``>=``, so a row committed late with the
same watermark is not missed); ingestion is idempotent, so they count as duplicates.
Rejected rows are reported and skipped: the watermark moves past them (fix them at the
source and touch their watermark to bring them back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.settings import IngestLimits, SyncConfig, normalise_database_url, parse_duration
from handlers.api import payloads
from handlers.api.schemas import MODELS, Kind
from services import ingest
from services.importer import cell_value
from storage import sync_state
from storage.db import write_transaction

log = logging.getLogger(__name__)

FETCH_ROWS = 2000
WATERMARK_DEFAULTS = {"events": ("updated_at", "timestamp"), "usage": ("updated_at", "hour", "day")}
ERRORS_KEPT = 100


class SyncError(ValueError):
    """A sync that cannot run as configured (the message says what to fix)."""


@dataclass
class SyncReport:
    """What one run of a sync read and stored."""

    name: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    watermark: Any = None

    def words(self) -> str:
        return (
            f"sync {self.name}: {self.rows} rows read, {self.accepted} accepted, "
            f"{self.duplicates} duplicates, {self.rejected} rejected; "
            f"watermark {self.watermark if self.watermark is not None else 'none yet'}"
        )


def warehouse_engine(url: str) -> Engine:
    """An engine for the warehouse's URL (postgres:// URLs use psycopg, as Steward does)."""
    if url.startswith(("postgres://", "postgresql://")):
        url = normalise_database_url(url)
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise SyncError(
            f"cannot use this warehouse URL ({exc}); install the dialect's package"
        ) from None


def run_sync(
    engine: Engine,
    name: str,
    *,
    url: str,
    query: str,
    kind: Kind,
    watermark: str | None,
    limits: IngestLimits,
    now: Callable[[], datetime],
) -> SyncReport:
    """Read the rows past the stored watermark, store them, and move the watermark."""
    with write_transaction(engine) as conn:
        last = sync_state.get(conn, name).watermark
    report = SyncReport(name, watermark=last)
    source = warehouse_engine(url)
    try:
        with source.connect() as wh:
            column = _watermark_column(wh, query, kind, watermark)
            result = wh.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(
                *_incremental(wh, query, column, last)
            )
            for rows in result.partitions():
                _ingest(engine, kind, rows, column, report, limits=limits, now=now())
                with write_transaction(engine) as conn:
                    sync_state.save(conn, name, watermark=report.watermark, ran_at=now())
    finally:
        source.dispose()
    with write_transaction(engine) as conn:
        sync_state.save(
            conn, name, watermark=report.watermark, ran_at=now(), summary=report.words()
        )
    return report


def _body(query: str) -> str:
    return query.strip().rstrip(";").strip()


def _watermark_column(wh: Connection, query: str, kind: Kind, named: str | None) -> str:
    probe = sa.text(f"SELECT * FROM ({_body(query)}) AS steward_sync WHERE 1 = 0")  # noqa: S608
    columns = list(wh.execute(probe).keys())
    candidates = (named,) if named else WATERMARK_DEFAULTS[kind]
    for column in candidates:
        if column in columns:
            return column
    raise SyncError(
        f"the query has no watermark column {' or '.join(candidates)!s} "
        f"(its columns: {', '.join(columns)}); name one with --watermark"
    )


def _incremental(wh: Connection, query: str, column: str, last: Any) -> tuple[Any, dict[str, Any]]:
    quoted = wh.dialect.identifier_preparer.quote(column)
    sql = f"SELECT * FROM ({_body(query)}) AS steward_sync"  # noqa: S608 - the operator's query
    if last is None:
        return sa.text(f"{sql} ORDER BY {quoted}"), {}
    return sa.text(f"{sql} WHERE {quoted} >= :steward_watermark ORDER BY {quoted}"), {
        "steward_watermark": last
    }


def _ingest(
    engine: Engine,
    kind: Kind,
    rows: Sequence[sa.Row[Any]],
    column: str,
    report: SyncReport,
    *,
    limits: IngestLimits,
    now: datetime,
) -> None:
    fields = set(MODELS[kind].model_fields)
    items: list[dict[str, Any]] = []
    first = report.rows + 1
    for row in rows:
        values = dict(row._mapping)
        mark = values.get(column)
        if mark is not None:
            report.watermark = mark  # rows come in watermark order
        items.append(_item(values, fields, column))
    report.rows += len(rows)
    validated = payloads.validate(kind, items, now=now, limits=limits)
    for e in validated.errors:
        where = f"row {first + e.index} (id {items[e.index].get('id')!r})"
        message = f"sync {report.name}: {where}: {e.field or 'row'}: {e.reason}"
        log.warning("%s", message)
        if len(report.errors) < ERRORS_KEPT:
            report.errors.append(message.removeprefix(f"sync {report.name}: "))
    report.rejected += len({e.index for e in validated.errors})
    if validated.items:
        result = ingest.store(engine, kind, validated.models, now=now)
        report.accepted += result["accepted"]
        report.duplicates += result["duplicates"]


def _item(values: dict[str, Any], fields: set[str], column: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for key, value in values.items():
        if key == column and key not in fields:
            continue  # the watermark is for Steward, not a field of the kind
        try:
            converted = cell_value(key, value)
        except ValueError:
            converted = value  # validation names the field and the reason
        if converted is not None:
            item[key] = converted
    return item


def run_due(
    engine: Engine,
    syncs: Mapping[str, SyncConfig],
    *,
    limits: IngestLimits,
    now: Callable[[], datetime],
) -> str:
    """Run each configured sync whose interval has passed since its last run (the worker's job).

    A sync that fails (warehouse unreachable, bad query) is logged and tried again after
    its interval; the others run all the same.
    """
    words = []
    for name, config in sorted(syncs.items()):
        with write_transaction(engine) as conn:
            state = sync_state.get(conn, name)
        started = now()
        due = state.last_run_at is None or (
            started - state.last_run_at
        ).total_seconds() >= parse_duration(config.every)
        if not due:
            continue
        try:
            report = run_sync(
                engine,
                name,
                url=config.warehouse_url(),
                query=config.query.read_text(encoding="utf-8"),
                kind=config.kind,  # type: ignore[arg-type]
                watermark=config.watermark,
                limits=limits,
                now=now,
            )
        except (sa.exc.SQLAlchemyError, OSError, ValueError) as exc:
            failure = f"sync {name}: failed: {_first_line(exc)}"
            log.error("%s", failure)
            with write_transaction(engine) as conn:
                sync_state.save(
                    conn, name, watermark=state.watermark, ran_at=started, summary=failure
                )
            words.append(failure)
            continue
        words.append(report.words())
    return "; ".join(words) if words else "no sync due"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
