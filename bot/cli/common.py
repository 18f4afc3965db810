"""What every `steward` command shares: consoles, settings and the schema check."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from core import logs
from core.logs import LogFormat
from core.settings import ConfigError, Settings, load_settings
from services.container import Services
from storage import migrate as migrations
from storage.db import DatabaseUnavailable

log = logging.getLogger("steward")
err = Console(stderr=True)
out = Console()


def settings() -> Settings:
    """Load the settings, or exit with the reason they are invalid."""
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def setup_logging(level: str, log_format: LogFormat = "text") -> None:
    """Log to stderr at the given level, as text or JSON lines (STEWARD_LOG_FORMAT)."""
    logs.configure(level, log_format)


def announce(config: Settings, line: str) -> None:
    """A start-up line: printed for a terminal, logged as a record with JSON logs."""
    if config.log_format == "json":
        log.info(line)
    else:
        err.print(line, markup=False)


def unreachable(exc: DatabaseUnavailable) -> typer.Exit:
    """Say the database cannot be reached; return the exit to raise."""
    err.print(f"Cannot reach the database: {exc}", style="red", markup=False)
    return typer.Exit(1)


def ensure_schema(services: Services) -> None:
    """Bring SQLite up to date on start; on PostgreSQL, refuse to run on an old schema."""
    try:
        waiting = migrations.pending(services.engine)
    except DatabaseUnavailable as exc:
        raise unreachable(exc) from None
    if not waiting:
        return
    if services.settings.is_sqlite:
        migrations.upgrade(services.engine)
        announce(
            services.settings,
            f"Database schema brought up to date ({len(waiting)} migration(s)).",
        )
        return
    err.print(
        f"[red]The database needs {len(waiting)} migration(s): run `steward migrate` "
        "(the Procfile's release process does).[/red]"
    )
    raise typer.Exit(1)
