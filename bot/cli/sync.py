"""`steward sync`: events or usage totals from a warehouse, incrementally, once or repeatedly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import ensure_schema, err, out, settings, unreachable
from core.settings import parse_duration
from services.container import build_services
from storage.db import DatabaseUnavailable

ERRORS_SHOWN = 50


def sync(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            envvar="STEWARD_SYNC_URL",
            help="the warehouse's SQLAlchemy URL (or $STEWARD_SYNC_URL), e.g. "
            "postgresql://user@host/db, snowflake://..., bigquery://project",
        ),
    ],
    query: Annotated[
        Path,
        typer.Option(
            "--query",
            exists=True,
            dir_okay=False,
            readable=True,
            help="a SQL file whose columns are named as the kind's fields",
        ),
    ],
    kind: Annotated[str, typer.Option("--kind", help="events or usage")] = "events",
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="the sync's name, under which its watermark is kept "
            "(default: the query file's name)",
        ),
    ] = None,
    watermark: Annotated[
        str | None,
        typer.Option(
            "--watermark",
            help="the output column to read from (default: updated_at, else the event time)",
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option("--every", help="run again at this interval (e.g. 15m, 1h) until stopped"),
    ] = None,
) -> None:
    """Read new rows from a warehouse through the same ingestion as /v1/* (exactly once)."""
    from services.sync import SyncError, run_sync

    if kind not in ("events", "usage"):
        err.print("[red]--kind must be events or usage[/red]")
        raise typer.Exit(2)
    try:
        interval = parse_duration(every) if every else None
    except ValueError as exc:
        err.print(f"[red]--every: {exc}[/red]")
        raise typer.Exit(2) from None
    services = build_services(settings())
    ensure_schema(services)
    sql = query.read_text(encoding="utf-8")
    while True:
        try:
            report = run_sync(
                services.engine,
                name or query.stem,
                url=source,
                query=sql,
                kind=kind,  # type: ignore[arg-type]
                watermark=watermark,
                limits=services.settings.ingest,
                now=services.clock,
            )
        except DatabaseUnavailable as exc:
            raise unreachable(exc) from None
        except SyncError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        except SQLAlchemyError as exc:  # the warehouse: unreachable, or the query failed
            err.print(f"[red]The warehouse refused: {_first_line(exc)}[/red]", soft_wrap=True)
            if interval is None:
                raise typer.Exit(1) from None
        else:
            out.print(report.words(), soft_wrap=True)
            for line in report.errors[:ERRORS_SHOWN]:
                out.print(f"  {line}", soft_wrap=True)
            if interval is None:
                raise typer.Exit(1 if report.rejected else 0)
        time.sleep(interval)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def register(app: typer.Typer) -> None:
    """Add the sync command to the CLI."""
    app.command()(sync)
